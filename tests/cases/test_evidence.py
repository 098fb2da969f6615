"""A case's evidence over real HTTP: the ID-card and card numbers customers send are kept only
masked in messages and cases and encrypted in sensitive_values; a lead reveals one with a
reason (audited), an agent cannot; the photos and documents customers send on Telegram and
WeChat are fetched back through the fake APIs when someone opens them from the case page."""

from __future__ import annotations

import html
import itertools
import json
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.settings import Settings
from bot.store import vault
from bot.store.models import AuditEvent, Case, CaseEvent, Message, SensitiveValue
from channels.telegram.files import file_base_url
from tests.cases.test_cases_work_cli import filed as complain
from tests.console.agents import AGENT, LEAD, add_agent
from tests.console.conftest import Customer, at_console, audit_trail
from tests.fakes import wechat_push as wx
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wechat_api import FakeWeChat
from tests.service.conftest import LiveServer, serving
from tests.service.test_telegram_service import OPENING as TG_OPENING
from tests.service.test_telegram_service import hook
from tests.service.test_telegram_service import settings_for as telegram_settings
from tests.service.test_wechat_service import ACCOUNT, USER, WeChat
from tests.service.test_wechat_service import OPENING as WX_OPENING
from tests.service.test_wechat_service import settings_for as wechat_settings

CARD = "6222021234567890128"
OPENING = (f"我是李娜，手机13800138000，12月1日在南山支行办理存款，柜员多收了我20元手续费，"
           f"态度还很差，我的卡号{CARD}，希望退还手续费并道歉")
NUMBER = re.compile(r"TS\d{8}-\d{4}")
KEY = "q2Vx0mJ4bYt8k1R7a3Zc9WnE5uH6sLpD0fGiKoMjNlQ="  # base64 of 32 bytes
_msg_ids = itertools.count(25_000_000_000_000_001)


def id_number(body: str = "11010119900307") -> str:
    """A valid 18-character ID number (GB 11643 check digit)."""
    seventeen = body + "123"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(seventeen, weights, strict=True))
    return seventeen + "10X98765432"[total % 11]


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The service on SQLite (its vault key generated beside the database) and PostgreSQL
    (the key from INTAKE_VAULT_KEY)."""
    extra = {} if database_url.startswith("sqlite") else {"vault_key": KEY}
    with serving(Settings(database_url=database_url, outbox_poll_seconds=0.1,
                          _env_file=None, **extra)) as server:
        yield server


@pytest.fixture
def sqlite_live(tmp_path: Path) -> Iterator[LiveServer]:
    with serving(Settings(database_url=f"sqlite:///{tmp_path / 'intake.db'}",
                          outbox_poll_seconds=0.1, _env_file=None)) as server:
        yield server


def filed(live: LiveServer, opening: str = OPENING) -> tuple[Customer, str]:
    return complain(live, opening)


def text_of(page: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def values(live: LiveServer) -> list[SensitiveValue]:
    with live.service.sessions() as s:
        return list(s.scalars(select(SensitiveValue).order_by(SensitiveValue.id)))


def case_of(live: LiveServer, number: str) -> Case:
    with live.service.sessions() as s:
        return s.scalars(select(Case).where(Case.number == number)).one()


def reveal(client: httpx.Client, number: str, value_id: object, csrf: str | None,
           reason: str | None) -> httpx.Response:
    form = {k: v for k, v in (("csrf", csrf), ("reason", reason)) if v is not None}
    return client.post(f"/console/cases/{number}/reveal/{value_id}", data=form)


def audits(live: LiveServer, action: str) -> list[AuditEvent]:
    with live.service.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)))


# ---- numbers ---------------------------------------------------------------------------


def test_a_card_number_is_stored_masked_and_encrypted_and_a_lead_reveals_it(live: LiveServer):
    add_agent(live, LEAD)
    add_agent(live, AGENT)
    _, number = filed(live)
    case = case_of(live, number)

    # Where people look, only the masked number; the clear one only as ciphertext.
    with live.service.sessions() as s:
        messages = list(s.scalars(select(Message)))
        events = list(s.scalars(select(CaseEvent)))
    stored = " ".join(m.text + json.dumps(m.raw or {}, ensure_ascii=False) for m in messages)
    assert CARD not in stored and "***************0128" in stored
    assert CARD not in case.description + json.dumps(case.reasons, ensure_ascii=False)
    [value] = values(live)
    assert (value.kind, value.masked, value.case_id) == ("bank_card", "***************0128",
                                                         case.id)
    assert CARD not in value.ciphertext and "0128" not in value.ciphertext
    if live.settings.vault_key is None:  # generated beside the database, for its owner only
        key_file = vault.key_file(live.settings)
        assert key_file.parent == Path(live.settings.database_url[len("sqlite:///"):]).parent
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    with at_console(live, LEAD) as (lead, csrf):
        for path in (f"/console/cases/{number}", f"/console/cases/{number}/evidence"):
            part = lead.get(path)  # on the case page, and the part alone
            assert part.status_code == 200, part.text
            assert "***************0128" in part.text and CARD not in part.text
            assert f"/console/cases/{number}/reveal/{value.id}" in part.text  # a lead's form

        assert reveal(lead, number, value.id, csrf, None).status_code == 422
        assert reveal(lead, number, value.id, csrf, "  看 ").status_code == 422
        assert reveal(lead, number, value.id, None, "客户来电核实卡号").status_code == 403
        shown = reveal(lead, number, value.id, csrf, "客户来电核实卡号")
        assert shown.status_code == 200, shown.text
        assert CARD in text_of(shown) and "客户来电核实卡号" in text_of(shown)
        assert "no-store" in shown.headers["cache-control"]

    [done] = audits(live, "reveal")
    assert (done.actor, done.subject) == (f"agent:{LEAD.login}", f"case:{number}")
    assert done.detail == {"value_id": value.id, "kind": "bank_card",
                           "masked": "***************0128", "reason": "客户来电核实卡号"}
    with live.service.sessions() as s:  # the clear number was written nowhere
        trail = [json.dumps([e.detail for e in s.scalars(select(AuditEvent))]),
                 json.dumps([[e.before, e.after] for e in s.scalars(select(CaseEvent))],
                            ensure_ascii=False)]
    assert all(CARD not in t for t in trail)
    assert all(CARD not in json.dumps([e.before, e.after], ensure_ascii=False) for e in events)

    with at_console(live, AGENT) as (agent, csrf):
        part = agent.get(f"/console/cases/{number}/evidence")
        assert part.status_code == 200 and "/reveal/" not in part.text  # no form for agents
        refused = reveal(agent, number, value.id, csrf, "我想看看卡号")
        assert refused.status_code == 403 and CARD not in refused.text
    assert (f"agent:{AGENT.login}", "reveal_refused", f"case:{number}") in audit_trail(live)
    assert len(audits(live, "reveal")) == 1


def test_a_number_of_another_case_or_an_unknown_one_is_not_found(sqlite_live: LiveServer):
    live = sqlite_live
    add_agent(live, LEAD)
    _, first = filed(live)
    _, second = filed(live, OPENING.replace(CARD, f"身份证{id_number()}"))
    theirs = [v for v in values(live) if v.case_id == case_of(live, second).id]
    assert [v.kind for v in theirs] == ["id_card"]
    with at_console(live, LEAD) as (lead, csrf):
        reason = "核实客户身份"
        assert reveal(lead, first, theirs[0].id, csrf, reason).status_code == 404
        assert reveal(lead, first, 987654, csrf, reason).status_code == 404
        assert reveal(lead, first, "abc", csrf, reason).status_code == 404
        assert reveal(lead, first, "9" * 40, csrf, reason).status_code == 404
        assert reveal(lead, "TS20000101-9999", theirs[0].id, csrf, reason).status_code == 404
        assert lead.get("/console/cases/TS20000101-9999/evidence").status_code == 404
        shown = reveal(lead, second, theirs[0].id, csrf, reason)
        assert shown.status_code == 200 and id_number() in text_of(shown)
    assert len(audits(live, "reveal")) == 1


def test_passwords_and_codes_are_never_kept_not_even_encrypted(sqlite_live: LiveServer):
    live = sqlite_live
    customer = Customer(live)
    ident = id_number()
    customer.say(f"我的取款密码是908172，验证码553311，身份证号{ident}")
    [value] = values(live)
    assert value.kind == "id_card" and value.case_id is None  # no case yet
    assert value.masked == ident[:3] + "*" * 13 + ident[-2:]
    opened = vault.reveal(live.settings, value)  # only the ID number is in the vault
    assert opened == ident


def test_a_number_sealed_under_another_key_is_refused_clearly(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'intake.db'}"
    with serving(Settings(database_url=db, vault_key=KEY, _env_file=None)) as live:
        add_agent(live, LEAD)
        _, number = filed(live)
    other = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    with serving(Settings(database_url=db, vault_key=other, _env_file=None)) as live:
        [value] = values(live)
        with at_console(live, LEAD) as (lead, csrf):
            answer = reveal(lead, number, value.id, csrf, "客户来电核实卡号")
        assert answer.status_code == 409 and CARD not in answer.text
        assert audits(live, "reveal_refused")[-1].detail["why"] == "evidence_unreadable"


def test_without_a_usable_key_the_message_is_still_kept_masked(tmp_path: Path):
    broken = tmp_path / "vault.key"
    broken.write_text("not a key\n")
    with serving(Settings(database_url=f"sqlite:///{tmp_path / 'intake.db'}",
                          vault_key_file=str(broken), _env_file=None)) as live:
        customer = Customer(live)
        customer.say(f"我的卡号{CARD}被盗刷了")
        assert values(live) == []
        with live.service.sessions() as s:
            [message] = s.scalars(select(Message).where(Message.direction == "in"))
        assert message.text == "我的卡号***************0128被盗刷了"


def test_the_file_server_follows_the_configured_bot_api_base():
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"


def test_a_bad_vault_key_setting_is_refused_at_start():
    with pytest.raises(ValueError, match="INTAKE_VAULT_KEY must be base64 of 32 bytes"):
        Settings(vault_key="c2hvcnQ=", _env_file=None)


def test_a_hotline_callers_card_number_is_kept_for_a_reveal(sqlite_live: LiveServer):
    live = sqlite_live
    add_agent(live, LEAD)
    transcript = ("call_id: EVID-1\ncaller: 13912345678\n"
                  "started_at: 2026-11-28T10:40:00+08:00\n"
                  "坐席：您好，请问有什么可以帮您？\n"
                  f"客户：我叫王明，手机13912345678，我的银行卡号{CARD}昨天在ATM取款2000元没出钞，"
                  "钱被扣了，请退款。\n"
                  "坐席：好的，卡号4111111111111111对吗？\n"
                  "客户：对。\n")
    result = live.service.hotline.ingest(transcript, "call.txt")
    assert result.status == "filed", result
    [value] = values(live)  # the caller's number; not what the agent said
    assert value.case_id == case_of(live, result.case_number).id
    assert value.conversation_id is None and value.kind == "bank_card"
    with at_console(live, LEAD) as (lead, csrf):
        assert "***************0128" in lead.get(
            f"/console/cases/{result.case_number}/evidence").text
        shown = reveal(lead, result.case_number, value.id, csrf, "回拨核实卡号")
        assert shown.status_code == 200 and CARD in text_of(shown)


# ---- files -----------------------------------------------------------------------------


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:TEST-token") as fake:
        yield fake


def wait_for_case(live: LiveServer, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with live.service.sessions() as s:
            number = s.scalar(select(Case.number))
        if number:
            return number
        time.sleep(0.05)
    raise AssertionError("no case was filed")


def test_a_telegram_photo_and_document_are_viewable_from_the_case(tg, tmp_path):
    chat = 700321
    photo = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00receipt-photo\xff\xd9"
    with serving(telegram_settings(tg, tmp_path / "db.sqlite", webhook=True)) as live:
        add_agent(live, LEAD)
        assert hook(live, tg.text_update(chat, TG_OPENING, push=False)).status_code == 200
        assert hook(live, tg.photo_update(chat, content=photo, push=False)).status_code == 200
        assert hook(live, tg.document_update(chat, push=False)).status_code == 200
        assert hook(live, tg.text_update(chat, "确认", push=False)).status_code == 200
        number = wait_for_case(live)

        with at_console(live, LEAD) as (lead, _csrf):
            part = lead.get(f"/console/cases/{number}/evidence")
            assert part.status_code == 200
            links = re.findall(rf'href="(/console/cases/{number}/attachments/\d+/\d+)"',
                               part.text)
            assert len(set(links)) == 2, part.text
            image_url, document_url = sorted(set(links), key=links.index)
            assert f'<img class="thumb" src="{image_url}"' in part.text
            assert "合同.pdf" in part.text

            got = lead.get(image_url)
            assert got.status_code == 200, got.text
            assert got.content == photo
            assert got.headers["content-type"] == "image/jpeg"
            assert got.headers["content-disposition"].startswith("inline")
            assert got.headers["x-content-type-options"] == "nosniff"
            document = lead.get(document_url)
            assert document.status_code == 200
            assert document.headers["content-type"] == "application/pdf"
            assert document.headers["content-disposition"].startswith("attachment")
            assert "%E5%90%88%E5%90%8C.pdf" in document.headers["content-disposition"]
            assert document.content.startswith(b"%PDF")

            message_id = int(image_url.split("/")[-2])
            for bad in (f"{message_id}/7", f"{message_id + 1000}/0", "abc/0", f"{message_id}/x"):
                assert lead.get(f"/console/cases/{number}/attachments/{bad}").status_code == 404
            assert lead.get(f"/console/cases/TS20000101-0001/attachments/{message_id}/0"
                            ).status_code == 404

            tg.down()
            failed = lead.get(image_url)
            assert failed.status_code == 502 and "稍后再试" in text_of(failed)
            tg.up()
        assert [a.detail["content_type"] for a in audits(live, "attachment_view")] == [
            "image/jpeg", "application/pdf"]
        assert all(a.subject == f"case:{number}" for a in audits(live, "attachment_view"))

    # The same store on a server without Telegram: a clear 503, nothing breaks.
    with serving(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                          _env_file=None)) as live, at_console(live, LEAD) as (lead, _):
        answer = lead.get(image_url)
        assert answer.status_code == 503 and "未配置" in text_of(answer)


def test_a_wechat_image_is_fetched_through_media_get(tmp_path):
    jpeg = b"\xff\xd8\xff\xe0wechat-receipt\xff\xd9"
    with FakeWeChat() as fake, serving(
            wechat_settings(fake, f"sqlite:///{tmp_path / 'db'}")) as live:
        add_agent(live, LEAD)
        chat = WeChat(live)
        chat.say(WX_OPENING)
        media = fake.add_media(jpeg)
        chat.post(wx.image_xml(ACCOUNT, USER, "http://mmbiz.qpic.cn/x.jpg", media,
                               next(_msg_ids)))
        chat.post(wx.image_xml(ACCOUNT, USER, "http://mmbiz.qpic.cn/y.jpg", "gone-media",
                               next(_msg_ids)))
        chat.say("确认")
        number = wait_for_case(live)
        with at_console(live, LEAD) as (lead, _csrf):
            part = lead.get(f"/console/cases/{number}/evidence")
            links = list(dict.fromkeys(re.findall(
                rf'href="(/console/cases/{number}/attachments/\d+/\d+)"', part.text)))
            assert len(links) == 2, part.text
            got = lead.get(links[0])
            assert got.status_code == 200, got.text
            assert (got.content, got.headers["content-type"]) == (jpeg, "image/jpeg")
            expired = lead.get(links[1])
            assert expired.status_code == 502 and "3 天" in text_of(expired)
        [call] = [c for c in fake.calls if c.path == "/cgi-bin/media/get"
                  and c.query.get("media_id") == media]
        assert call.query["access_token"] == fake.current_token
