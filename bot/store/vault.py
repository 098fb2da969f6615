"""Owner of `sensitive_values`: the ID-card and card numbers customers sent, kept encrypted so
that a lead can reveal one for a stated reason (messages and cases keep only the masked form).

AES-256-GCM (the `cryptography` package), a random 96-bit nonce per value, the row's kind and
conversation (or case) as associated data, so a ciphertext copied onto another row does not
open. The key is INTAKE_VAULT_KEY, or a key file generated on first use with mode 0600
(INTAKE_VAULT_KEY_FILE; by default beside the SQLite database). Losing the key loses the
reveal, nothing else: the masked text stays. Passwords and verification codes are never
kept here, not even encrypted.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ColumnElement, bindparam, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from workflow.extract.sensitive import SensitiveSpan, find_sensitive, redact
from workflow.numerals import read_out_numbers

from ..settings import Settings
from . import raw
from .models import SensitiveValue

log = logging.getLogger(__name__)

KEPT_KINDS = frozenset({"id_card", "bank_card"})  # never "password", "verification_code"
FORMAT = "v1"  # ciphertext: "v1:" + base64(nonce || sealed)
NONCE_BYTES = 12
KEY_BYTES = 32
DEFAULT_KEY_FILE = "intake.vault-key"


class VaultUnavailable(Exception):
    """No usable key: the key file cannot be read or written, or holds no key."""


class Unreadable(Exception):
    """This value was sealed with another key (or altered): it cannot be revealed."""


@dataclass(frozen=True)
class Found:
    kind: str
    clear: str  # as the customer wrote it, separators included
    masked: str


def found_in(text: str, *, spoken: bool = False) -> list[Found]:
    """The ID-card and card numbers in `text`; `spoken`: a call's turn, whose numbers may
    be read out digit by digit (read as the transcript's masking reads them)."""
    if not isinstance(text, str) or not text:
        return []
    if spoken:
        written = read_out_numbers(text)
        if written != text and _kept(find_sensitive(written)):
            text = written
    out = []
    for span in _kept(find_sensitive(text)):
        clear = text[span.start:span.end]
        masked = redact(clear, [SensitiveSpan(span.kind, 0, len(clear))])
        out.append(Found(span.kind, clear, masked[:64]))
    return out


def _kept(spans: list[SensitiveSpan]) -> list[SensitiveSpan]:
    return [s for s in spans if s.kind in KEPT_KINDS]


# ---- the key -------------------------------------------------------------------------------


class Vault:
    """Seals and opens values with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise VaultUnavailable("the vault key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, clear: str, context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, clear.encode("utf-8"), context.encode("utf-8"))
        return f"{FORMAT}:" + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, ciphertext: str, context: str) -> str:
        version, _, body = ciphertext.partition(":")
        try:
            if version != FORMAT:
                raise ValueError(version)
            raw = base64.b64decode(body, validate=True)
            clear = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                       context.encode("utf-8"))
        except (InvalidTag, ValueError, binascii.Error):
            raise Unreadable("this value cannot be opened with the current vault key") from None
        return clear.decode("utf-8")


_vaults: dict[tuple[str, str], Vault] = {}
_vaults_lock = threading.Lock()


def key_file(settings: Settings) -> Path:
    """Where the generated key lives when INTAKE_VAULT_KEY is unset."""
    if settings.vault_key_file:
        return Path(settings.vault_key_file).expanduser()
    with contextlib.suppress(Exception):
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).with_suffix(".vault-key")
    return Path(DEFAULT_KEY_FILE)


def vault_for(settings: Settings) -> Vault:
    """The vault of these settings (VaultUnavailable when no key can be had)."""
    if settings.vault_key is not None:
        ident = ("key", settings.vault_key.get_secret_value())
    else:
        ident = ("file", str(key_file(settings).resolve()))
    with _vaults_lock:
        found = _vaults.get(ident)
        if found is None:
            key = (base64.b64decode(ident[1].strip()) if ident[0] == "key"
                   else _load_or_create(Path(ident[1])))
            found = _vaults[ident] = Vault(key)
        return found


def _load_or_create(path: Path) -> bytes:
    """The key in `path`; created (mode 0600, all at once) when there is none. Several
    processes starting together all end up with the first one's key."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temp, path)  # fails if another process made one meanwhile: use theirs
                log.warning("generated a new vault key in %s: keep it safe and back it up; "
                            "without it numbers cannot be revealed", path)
            except FileExistsError:
                pass
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        return _read_key(path)
    except OSError as exc:
        raise VaultUnavailable(f"cannot create the vault key file {path}: "
                               f"{exc.strerror or type(exc).__name__}") from None


def _read_key(path: Path) -> bytes:
    """The key in `path` (FileNotFoundError when there is no file). Files are created whole
    (see `_load_or_create`), so a short one is broken, not still being written."""
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultUnavailable(f"cannot read the vault key file {path}: "
                               f"{type(exc).__name__}") from None
    try:
        key = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != KEY_BYTES:
        raise VaultUnavailable(f"the vault key file {path} does not hold a key "
                               "(base64 of 32 bytes)")
    return key


# ---- the rows ------------------------------------------------------------------------------


def _context(kind: str, conversation_id: int | None, case_id: int | None) -> str:
    where = f"conversation:{conversation_id}" if conversation_id is not None else \
        f"case:{case_id}"
    return f"sensitive_values|{kind}|{where}"


def keep(session: Session, settings: Settings, text: str, *, conversation_id: int,
         message_id: int | None, now: datetime) -> int:
    """Keep, encrypted, the ID-card and card numbers of one customer message; how many.

    Never fails the message: without a usable key the numbers stay masked only (logged)."""
    found = found_in(text)
    if not found:
        return 0
    return _add(session, settings, found, conversation_id=conversation_id,
                message_id=message_id, case_id=None, now=now)


def keep_call(session: Session, settings: Settings, texts: list[str], *, case_id: int,
              now: datetime) -> int:
    """Keep the numbers the caller said in a hotline call, with the case it was filed as."""
    found = [f for text in texts for f in found_in(text, spoken=True)]
    if not found:
        return 0
    return _add(session, settings, found, conversation_id=None, message_id=None,
                case_id=case_id, now=now)


def _add(session: Session, settings: Settings, found: list[Found], *,
         conversation_id: int | None, message_id: int | None, case_id: int | None,
         now: datetime) -> int:
    try:
        vault = vault_for(settings)
    except VaultUnavailable as exc:
        log.error("%s numbers kept masked only: %s", len(found), exc)
        return 0
    for f in found:
        session.add(SensitiveValue(
            conversation_id=conversation_id, message_id=message_id, case_id=case_id,
            kind=f.kind, masked=f.masked, created_at=now,
            ciphertext=vault.seal(f.clear, _context(f.kind, conversation_id, case_id))))
    return len(found)


def link_case(session: Session, conversation_id: int, case_id: int) -> None:
    """The conversation's numbers not yet linked belong to the case just filed."""
    if session.new:
        session.flush()  # numbers kept earlier in this transaction are rows before the update
    _LINK_CASE.run(session, {"conversation_id": conversation_id, "case_id": case_id})


_values = SensitiveValue.__table__
_LINK_CASE = raw.Statement(
    update(_values).where(_values.c.conversation_id == bindparam("conversation_id"),
                          _values.c.case_id.is_(None))
    .values(case_id=bindparam("case_id")))


def _of_case(case_id: int, conversation_id: int | None) -> ColumnElement[bool]:
    """The case's numbers: linked to it, or in its conversation and linked to no case."""
    mine = SensitiveValue.case_id == case_id
    if conversation_id is None:
        return mine
    return or_(mine, (SensitiveValue.conversation_id == conversation_id)
               & SensitiveValue.case_id.is_(None))


def of_case(session: Session, case_id: int, conversation_id: int | None) -> list[SensitiveValue]:
    return list(session.scalars(select(SensitiveValue)
                                .where(_of_case(case_id, conversation_id))
                                .order_by(SensitiveValue.id)))


def find_of_case(session: Session, value_id: int, case_id: int,
                 conversation_id: int | None) -> SensitiveValue | None:
    """One of the case's numbers; None for an unknown id or another case's."""
    return session.scalar(select(SensitiveValue).where(SensitiveValue.id == value_id,
                                                       _of_case(case_id, conversation_id)))


def reveal(settings: Settings, value: SensitiveValue) -> str:
    """The clear number (VaultUnavailable without a key, Unreadable under another key).
    The caller shows it once and audits that it did; it is never logged."""
    return vault_for(settings).open(value.ciphertext,
                                    _context(value.kind, value.conversation_id, value.case_id))
