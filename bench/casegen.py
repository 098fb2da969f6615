"""A generated store of filed cases for the reports' tests and benchmark: many cases over many
days on every channel, with customers who complain more than once, assignments of status,
first answers, resolutions, ratings, call-backs and JR/T 0169 dimensions, all chosen by a
seeded random generator (the same seed, the same store).

`generate` returns the cases as plain dicts (what a test counts on its own); `insert` writes
them, with their customers, channel identities and conversations, straight into a migrated
store in bulk (Core inserts, a few thousand rows a statement), as the pipeline would have
left them. `atm_scenario` is the cluster test's store: one ATM retaining cards, spread among
other complaints.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy import insert as sql_insert

from bot.store.db import make_engine
from bot.store.models import Case, ChannelIdentity, Conversation, Customer

ZONE = ZoneInfo("Asia/Shanghai")
CHANNELS = (("webchat", 35), ("wechat", 30), ("telegram", 10), ("hotline", 15), ("branch", 10))
CHAT = ("webchat", "wechat", "telegram")
PRIORITIES = (("urgent", 5), ("high", 15), ("normal", 70), ("low", 10))
CATEGORIES = (("product", 45), ("service", 35), ("process", 20))
REG_CHANNELS = ("counter", "self_service", "electronic", "third_party", "back_office", "unknown")
REG_BUSINESS = ("rmb_savings", "loans", "bank_cards", "payment_settlement",
                "bank_wealth_management", "agency_business", "other")
REG_REASONS = ("service_attitude_quality", "facilities_systems", "rules_procedures",
               "information_disclosure", "product_returns", "pricing_fees", "contract_terms",
               "funds_safety", "other")
CALLBACKS = ("fields_missing", "hotline", "reply_undelivered")
BRANCHES = ("人民路支行", "建设路支行", "解放路支行", "中山路支行", "滨江支行", "高新区支行")

# Complaint texts per business line (zh, en): {branch} and {amount} are filled in.
TEXTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "deposit": (("在{branch}办理定期存款，柜员没有说明提前支取会损失利息，损失{amount}元",
                 "{branch}开户流程太繁琐，来回跑了三趟还没办好",
                 "销户要求本人到{branch}柜台办理，排队两个小时"),
                ("The {branch} teller never told me early withdrawal loses the interest",
                 "Opening an account took three visits to the branch")),
    "debit_card": (("借记卡被扣了{amount}元短信服务费，事先没有告知",
                    "在{branch}换卡要等两周，太慢了"),
                   ("My debit card was charged a fee I never agreed to",
                    "Replacing my debit card takes two weeks")),
    "credit_card": (("信用卡年费{amount}元没有提前告知就扣了，要求退还",
                     "信用卡分期手续费比宣传的高，客服解释不清楚",
                     "信用卡还款后额度一直没有恢复"),
                    ("I was charged an annual fee on my credit card nobody told me about",
                     "Instalment fees on my credit card are higher than advertised")),
    "loan": (("房贷提前还款被收了{amount}元违约金，合同里没写清楚",
              "贷款审批拖了一个多月，客户经理一直不回电话"),
             ("My mortgage early repayment penalty was never explained",
              "The loan approval has dragged on for over a month")),
    "wealth": (("购买的稳盈理财产品收益不达预期，亏了{amount}元，理财经理说保本",
                "理财经理推销的基金风险等级和我的评估不符"),
               ("My wealth product returned far less than expected",
                "The adviser sold me a fund above my risk level")),
    "insurance": (("在{branch}被推销了保险，说是存款，现在退保损失{amount}元",
                   "理赔材料交了三次还是被退回"),
                  ("I was sold insurance at the branch as if it were a deposit",
                   "My claim documents were sent back three times")),
    "payment": (("手机银行转账{amount}元一直没到账，客服说在核实",
                 "网银转账限额突然被调低，影响生意"),
                ("A mobile banking transfer has not arrived after three days",
                 "My online banking transfer limit was cut without notice")),
    "other": (("{branch}大堂经理态度很差，问两句就不耐烦",
               "客服电话一直打不通，等了四十分钟"),
              ("The hotline kept me on hold for forty minutes",
               "The lobby manager at the branch was rude")),
}
BUSINESS = tuple((b, w) for b, w in zip(TEXTS, (14, 12, 20, 10, 12, 8, 16, 8), strict=True))


def _pick(rng: random.Random, weighted: Iterable[tuple[str, int]]) -> str:
    items = list(weighted)
    return rng.choices([k for k, _ in items], weights=[w for _, w in items])[0]


def _local_day(at: datetime) -> date:
    return at.astimezone(ZONE).date()


def generate(n: int, days: int, end: date, seed: int = 7, customers: int | None = None
             ) -> list[dict[str, Any]]:
    """`n` cases received over the `days` days up to `end` (local dates), oldest first."""
    rng = random.Random(seed)
    pool = customers or max(1, int(n * 0.8))
    first_day = end - timedelta(days=days - 1)
    start = datetime.combine(first_day, time(0, 0), ZONE).astimezone(UTC)
    span = days * 86400
    out: list[dict[str, Any]] = []
    for i in range(n):
        filed_at = start + timedelta(seconds=rng.randrange(span))
        out.append(_case(rng, i, filed_at, rng.randrange(pool), end))
    out.sort(key=lambda c: c["filed_at"])
    for seq, case in enumerate(out, 1):
        case["number"] = f"TS{case['filed_on']:%Y%m%d}-{seq:06d}"
    return out


def _case(rng: random.Random, i: int, filed_at: datetime, customer: int, today: date
          ) -> dict[str, Any]:
    channel = _pick(rng, CHANNELS)
    business = _pick(rng, BUSINESS)
    lang = "en" if channel in ("webchat", "telegram") and rng.random() < 0.3 else "zh"
    texts = TEXTS[business][0 if lang == "zh" else 1]
    branch = rng.choice(BRANCHES) if rng.random() < 0.5 else None
    amount = Decimal(rng.randrange(1000, 10_000_000)) / 100 if rng.random() < 0.5 else None
    description = rng.choice(texts).format(branch=branch or "网点",
                                           amount=amount if amount is not None else "一些")
    if rng.random() < 0.02:  # a customer pasted a card number (stored before masking)
        description += " 卡号6222021234567890123"
    filed_on = _local_day(filed_at)
    age = (today - filed_on).days
    done = rng.random() < min(0.95, age / 25)
    status = (rng.choice(("resolved", "closed")) if done else
              rng.choice(("new", "in_progress", "waiting_customer", "reopened",
                          "review_requested")))
    person = channel in ("hotline", "branch")
    first_response = None
    if person:
        first_response = filed_at
    elif status != "new" or rng.random() < 0.3:
        first_response = filed_at + timedelta(seconds=int(rng.expovariate(1 / 7200)) + 30)
    resolved = None
    if status in ("resolved", "closed"):
        resolved = filed_at + timedelta(seconds=rng.randrange(3600, 20 * 86400))
    rating = None
    conversation = not person
    if conversation and status in ("resolved", "closed") and rng.random() < 0.6:
        rating = rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 5))[0]
    callback = rng.choice(CALLBACKS) if status not in ("resolved", "closed") \
        and rng.random() < 0.08 else None
    due = filed_on + timedelta(days=30 if rng.random() < 0.1 else 15)
    regulatory = {"channel": rng.choice(REG_CHANNELS), "business_type": rng.choice(REG_BUSINESS),
                  "reason": rng.choice(REG_REASONS)}
    return {
        "customer": customer, "channel": channel, "language": lang, "business": business,
        "description": description, "branch": branch, "amount": amount,
        "category": _pick(rng, CATEGORIES), "priority": _pick(rng, PRIORITIES),
        "status": status, "filed_at": filed_at, "filed_on": filed_on, "due_date": due,
        "first_response_at": first_response, "resolved_at": resolved, "rating": rating,
        "conversation": conversation, "callback_reason": callback,
        "filed_by_bot": (not person) and rng.random() < 0.85, "regulatory": regulatory,
        "name": f"客户{customer}", "phone": f"+86139{customer:08d}",
    }


def atm_scenario(end: date, seed: int = 11) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """500 varied complaints over 90 days, and 30 about one ATM keeping cards (28 customers,
    two of them twice): 4 in the weeks before, 26 in the last week. Returns (others, atm)."""
    others = generate(500, 90, end, seed=seed, customers=450)
    rng = random.Random(seed + 1)
    wordings = ("建设路支行门口的ATM机吞了我的卡，取款时卡被吞了，至今没有退还，卡里有{amount}元",
                "在建设路支行ATM取钱，机器吞卡了，打客服也没人管，急用钱{amount}元",
                "建设路支行那台取款机把我的银行卡吞了，说要等三天才能领回，要转账{amount}元",
                "The ATM outside the 建设路支行 swallowed my card while I withdrew {amount} yuan")
    atm: list[dict[str, Any]] = []
    for i in range(30):
        back = rng.randrange(7, 60) if i < 4 else rng.randrange(0, 7)
        day = end - timedelta(days=back)
        filed_at = datetime.combine(day, time(9 + i % 10, (7 * i) % 60), ZONE).astimezone(UTC)
        customer = 10_000 + (i if i < 28 else i - 28)  # the last two complain again
        amount = Decimal(rng.randrange(100, 5000))
        case = _case(rng, 0, filed_at, customer, end)
        case.update(business="debit_card", branch="建设路支行", amount=amount,
                    description=rng.choice(wordings).format(amount=amount),
                    language="en" if i % 10 == 9 else "zh")
        atm.append(case)
    for seq, case in enumerate(atm, 1):
        case["number"] = f"TSATM-{seq:04d}"
    return others, atm


def insert(engine: Engine, cases: list[dict[str, Any]], chunk: int = 2000) -> None:
    """Write the cases with their customers, identities and conversations (chat channels)."""
    now = datetime.now(UTC)
    customers = sorted({c["customer"] for c in cases})
    base = _next_id(engine, Customer.__table__)
    ids = {key: base + i for i, key in enumerate(customers)}
    identity_base = _next_id(engine, ChannelIdentity.__table__)
    conversation_base = _next_id(engine, Conversation.__table__)
    identities: dict[tuple[int, str], int] = {}
    for c in cases:
        if c["conversation"]:
            identities.setdefault((c["customer"], c["channel"]),
                                  identity_base + len(identities))
    with engine.begin() as conn:
        for part in _parts([{"id": ids[k], "name": f"客户{k}", "phone": f"+86139{k:08d}",
                             "created_at": now, "updated_at": now} for k in customers], chunk):
            conn.execute(sql_insert(Customer), part)
        rows = [{"id": iid, "channel": ch, "external_id": f"gen-{ch}-{cust}-{iid}",
                 "customer_id": ids[cust], "created_at": now}
                for (cust, ch), iid in identities.items()]
        for part in _parts(rows, chunk):
            conn.execute(sql_insert(ChannelIdentity), part)
        conversations = [{"id": conversation_base + (iid - identity_base), "identity_id": iid,
                          "customer_id": ids[cust], "channel": ch, "status": "bot",
                          "state": {}, "version": 0, "created_at": now, "updated_at": now}
                         for (cust, ch), iid in identities.items()]
        for part in _parts(conversations, chunk):
            conn.execute(sql_insert(Conversation), part)
        rows = []
        for c in cases:
            conversation = None
            if c["conversation"]:
                conversation = conversation_base + (identities[(c["customer"], c["channel"])]
                                                    - identity_base)
            reg = c["regulatory"]
            rows.append({
                "number": c["number"], "customer_id": ids[c["customer"]],
                "conversation_id": conversation, "channel": c["channel"],
                "language": c["language"], "name": c["name"], "phone": c["phone"],
                "business": c["business"], "description": c["description"],
                "amount": c["amount"], "currency": "CNY" if c["amount"] is not None else None,
                "branch": c["branch"], "category": c["category"], "secondary_categories": [],
                "priority": c["priority"], "reasons": {}, "regulatory": reg, "missing": [],
                "status": c["status"], "due_date": c["due_date"], "filed_at": c["filed_at"],
                "updated_at": c["filed_at"], "callback_reason": c["callback_reason"],
                "callback_at": c["filed_at"] if c["callback_reason"] else None,
                "rating": c["rating"], "review_requested": c["status"] == "review_requested",
                "paused_days": 0, "filed_on": c["filed_on"], "filed_by_bot": c["filed_by_bot"],
                "first_response_at": c["first_response_at"], "resolved_at": c["resolved_at"],
                "reg_channel": reg["channel"], "reg_business": reg["business_type"],
                "reg_reason": reg["reason"]})
        for part in _parts(rows, chunk):
            conn.execute(sql_insert(Case), part)
    if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
        with engine.begin() as conn:
            for table in ("customers", "channel_identities", "conversations"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")


def insert_at(url: str, cases: list[dict[str, Any]]) -> None:
    """`insert` into the (migrated) store at a database URL, e.g. a running service's."""
    engine = make_engine(url)
    try:
        insert(engine, cases)
    finally:
        engine.dispose()


def _next_id(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _parts(rows: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i:i + size]
