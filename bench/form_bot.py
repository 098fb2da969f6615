"""The bot a Python developer would otherwise write: a python-telegram-bot form, for comparison.

    python -m bench.form_bot --port P --token T --api-base URL --secret S --data DIR
        [--concurrent-updates N] [--rate-limit]

A `ConversationHandler`: /start or any first message -> it asks, one question each, the
name, phone, business, description, incident date and wished resolution, keeping each answer
as typed; then it shows the answers with a 确认/修改 (Yes/Change) keyboard. "确认"/"yes" files
the case in a SQLite table of its own (`DIR/cases.db`, WAL) and replies with a case number
(`FBYYYYMMDD-NNNN`); "修改"/"change" starts the questions again. /cancel drops the form.
The language (zh or en) follows the user's Telegram `language_code`.

Conversation state and user data are kept with `PicklePersistence` (`DIR/form_bot.pickle`,
PTB's default flush interval). Updates arrive on PTB's own webhook server
(`Application.run_webhook`, tornado) at `POST /telegram`, checked against the secret; sends go
to `--api-base` (the Bot API, or a fake of it), where `setWebhook` is called at start.
Everything else is PTB's defaults: updates are processed one at a time
(`--concurrent-updates` raises that), no send pacing (`--rate-limit` adds PTB's
`AIORateLimiter`, about 30 messages/s overall, as Telegram allows).
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from telegram import ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)

SLOTS = ("name", "phone", "business", "description", "incident_time", "resolution")
CONFIRM = len(SLOTS)
WEBHOOK_PATH = "telegram"

QUESTIONS = {
    "zh": {
        "name": "您好，这里是投诉受理。请问您怎么称呼？",
        "phone": "请留下您的手机号码。",
        "business": "请问涉及哪类业务？",
        "description": "请描述发生了什么事情。",
        "incident_time": "请问这件事是哪天发生的？",
        "resolution": "请问您希望我们如何处理？",
    },
    "en": {
        "name": "Hello, this is complaint intake. May I have your name?",
        "phone": "Which phone number can we reach you on?",
        "business": "Which service is this about?",
        "description": "Please describe what happened.",
        "incident_time": "On what date did this happen?",
        "resolution": "What would you like us to do?",
    },
}
LABELS = {
    "zh": {"name": "姓名", "phone": "电话", "business": "业务", "description": "描述",
           "incident_time": "日期", "resolution": "诉求"},
    "en": {"name": "Name", "phone": "Phone", "business": "Service", "description": "What happened",
           "incident_time": "Date", "resolution": "Request"},
}
BUSINESS = {
    "zh": [["存款/账户", "借记卡/ATM"], ["信用卡", "贷款"], ["理财/基金", "其他"]],
    "en": [["Accounts", "Debit card / ATM"], ["Credit card", "Loans"], ["Wealth", "Other"]],
}
TEXTS = {
    "zh": {"check": "请核对：", "yes": "确认", "change": "修改",
           "again": "请回复“确认”提交，或“修改”重新填写。",
           "filed": "您的投诉已登记，案件编号：{number}。",
           "cancelled": "已取消。"},
    "en": {"check": "Please check:", "yes": "Yes", "change": "Change",
           "again": "Please reply “Yes” to submit or “Change” to start over.",
           "filed": "Your complaint is registered, case number {number}.",
           "cancelled": "Cancelled."},
}
YES = {"确认", "是", "对", "yes", "y", "ok"}
CHANGE = {"修改", "change", "no"}


class CaseStore:
    """Cases in one SQLite table; the case number comes from the row id."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, number TEXT UNIQUE, "
            "chat_id INTEGER, lang TEXT, name TEXT, phone TEXT, business TEXT, "
            "description TEXT, incident_time TEXT, resolution TEXT, created_at TEXT)")
        self.db.commit()

    def file(self, chat_id: int, lang: str, answers: dict[str, str]) -> str:
        now = datetime.now(UTC)
        with self.db:  # one transaction, committed on leaving
            cur = self.db.execute(
                "INSERT INTO cases (chat_id, lang, name, phone, business, description, "
                "incident_time, resolution, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (chat_id, lang, *(answers.get(s) for s in SLOTS), now.isoformat()))
            number = f"FB{now:%Y%m%d}-{cur.lastrowid:04d}"
            self.db.execute("UPDATE cases SET number = ? WHERE id = ?", (number, cur.lastrowid))
        return number


def _lang(update: Update) -> str:
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "en" if code.lower().startswith("en") else "zh"


def _ask(lang: str, slot: str) -> tuple[str, ReplyKeyboardMarkup | ReplyKeyboardRemove]:
    if slot == "business":
        return QUESTIONS[lang][slot], ReplyKeyboardMarkup(BUSINESS[lang], one_time_keyboard=True)
    return QUESTIONS[lang][slot], ReplyKeyboardRemove()


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    lang = _lang(update)
    context.user_data.clear()
    context.user_data.update(lang=lang, answers={})
    text, markup = _ask(lang, SLOTS[0])
    await update.effective_message.reply_text(text, reply_markup=markup)
    return 0


def answer_handler(index: int):
    slot = SLOTS[index]

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        lang = context.user_data.get("lang") or _lang(update)
        answers = context.user_data.setdefault("answers", {})
        answers[slot] = update.effective_message.text
        if index + 1 < len(SLOTS):
            text, markup = _ask(lang, SLOTS[index + 1])
            await update.effective_message.reply_text(text, reply_markup=markup)
            return index + 1
        t = TEXTS[lang]
        lines = [t["check"], *(f"{LABELS[lang][s]}: {answers.get(s, '')}" for s in SLOTS)]
        await update.effective_message.reply_text(
            "\n".join(lines),
            reply_markup=ReplyKeyboardMarkup([[t["yes"], t["change"]]], one_time_keyboard=True))
        return CONFIRM

    return answer


def confirm_handler(store: CaseStore):
    # The store is not in bot_data: PicklePersistence would replace that dict (and pickle it).
    async def confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        lang = context.user_data.get("lang") or _lang(update)
        t = TEXTS[lang]
        reply = (update.effective_message.text or "").strip().lower()
        if reply in YES:
            number = store.file(update.effective_chat.id, lang,
                                context.user_data.get("answers", {}))
            context.user_data.clear()
            await update.effective_message.reply_text(t["filed"].format(number=number),
                                                      reply_markup=ReplyKeyboardRemove())
            return ConversationHandler.END
        if reply in CHANGE:
            return await start(update, context)
        await update.effective_message.reply_text(t["again"])
        return CONFIRM

    return confirm


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    lang = context.user_data.get("lang") or _lang(update)
    context.user_data.clear()
    await update.effective_message.reply_text(TEXTS[lang]["cancelled"],
                                              reply_markup=ReplyKeyboardRemove())
    return ConversationHandler.END


def build(token: str, api_base: str, data: Path, concurrent_updates: int = 1,
          rate_limit: bool = False) -> Application:
    data.mkdir(parents=True, exist_ok=True)
    store = CaseStore(data / "cases.db")
    text = filters.TEXT & ~filters.COMMAND
    form = ConversationHandler(
        entry_points=[CommandHandler("start", start), MessageHandler(text, start)],
        states={
            **{i: [MessageHandler(text, answer_handler(i))] for i in range(len(SLOTS))},
            CONFIRM: [MessageHandler(text, confirm_handler(store))],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="complaint_form",
        persistent=True,
    )
    builder = (ApplicationBuilder().token(token).base_url(api_base)
               .persistence(PicklePersistence(filepath=data / "form_bot.pickle")))
    if concurrent_updates > 1:
        builder = builder.concurrent_updates(concurrent_updates)
    if rate_limit:
        from telegram.ext import AIORateLimiter

        builder = builder.rate_limiter(AIORateLimiter())
    app = builder.build()
    app.add_handler(form)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--api-base", required=True,
                        help="Bot API base URL, the token is appended (…/bot)")
    parser.add_argument("--secret", required=True, help="the webhook's secret token")
    parser.add_argument("--data", type=Path, required=True, help="persistence and case store")
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--webhook-url", default=None,
                        help=f"given to setWebhook; default http://LISTEN:PORT/{WEBHOOK_PATH}")
    parser.add_argument("--concurrent-updates", type=int, default=1,
                        help="updates handled at once (PTB's default: 1)")
    parser.add_argument("--rate-limit", action="store_true", help="use PTB's AIORateLimiter")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build(args.token, args.api_base, args.data, args.concurrent_updates, args.rate_limit)
    url = args.webhook_url or f"http://{args.listen}:{args.port}/{WEBHOOK_PATH}"
    app.run_webhook(listen=args.listen, port=args.port, url_path=WEBHOOK_PATH,
                    secret_token=args.secret, webhook_url=url)


if __name__ == "__main__":
    main()
