"""Hotline calls into cases: one transcript, one case, with what is missing marked for a
call-back. Used by `intake import-transcripts` and `POST /channels/hotline/transcripts`.

A call is imported once: its key is the call id, or the transcript's content hash when the
file has none, and the key is unique in the store, so a second import (even a concurrent
one) files nothing. Nothing of a file that cannot be read is stored.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from channels.hotline import (
    CHANNEL,
    CUSTOMER,
    InvalidTranscript,
    Transcript,
    content_hash,
    parse_transcript,
)
from workflow.deadlines import due_date
from workflow.engine import Engine
from workflow.extract.phones import find_phones
from workflow.transcript import masked_turns, read_call

from .cases import assignment
from .metrics import Metrics
from .settings import Settings
from .store import cases, customers, vault
from .store.models import CallTranscript, Case

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    source: str
    status: str  # filed | skipped | failed
    case_number: str | None = None
    reason: str | None = None  # why it failed or was skipped
    priority: str | None = None
    missing: tuple[str, ...] = ()
    call_key: str | None = None


@dataclass
class ImportSummary:
    results: list[ImportResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


class HotlineIntake:
    def __init__(self, sessions: sessionmaker[Session], engine: Engine, settings: Settings,
                 metrics: Metrics | None = None) -> None:
        self.sessions = sessions
        self.engine = engine
        self.settings = settings
        self.metrics = metrics

    def ingest(self, data: bytes | str, source: str, *,
               file_time: datetime | None = None) -> ImportResult:
        """Read one transcript and file its case, unless this call was imported before."""
        result = self._ingest(data, source, file_time)
        if self.metrics is not None:
            self.metrics.transcripts.labels(result.status).inc()
        return result

    def _ingest(self, data: bytes | str, source: str,
                file_time: datetime | None) -> ImportResult:
        try:
            transcript = parse_transcript(data, max_bytes=self.settings.hotline_max_bytes)
        except InvalidTranscript as exc:
            return ImportResult(source, "failed", reason=exc.detail)
        received = datetime.now(UTC)
        if transcript.started_at is not None:
            problem = _implausible(transcript.started_at, received)
            if problem:
                return ImportResult(source, "failed", reason=problem)
        digest = content_hash(transcript)  # hashes every turn: once per import
        key = _call_key(transcript, digest)
        earlier = self._earlier(key, digest, source)
        if earlier is not None:
            return earlier
        try:
            result = self._file(transcript, key, digest, source, file_time or received)
        except IntegrityError:  # imported at this very moment by another worker
            earlier = self._earlier(key, digest, source)
            return earlier or ImportResult(source, "failed", reason="could not be filed: a "
                                           "conflicting write; import it again", call_key=key)
        if self.metrics is not None:
            self.metrics.messages_in.labels(CHANNEL).inc()
            self.metrics.cases_filed.labels(CHANNEL, result.priority or "normal").inc()
        if result.priority == "urgent":
            log.warning("urgent hotline case %s filed from %s", result.case_number, source)
        return result

    def _earlier(self, key: str, digest: str, source: str) -> ImportResult | None:
        """The outcome for a call imported before: skipped when it is the same call; failed
        when its call id was used for different words (a second call must not vanish)."""
        with self.sessions() as session:
            row = session.execute(
                select(CallTranscript.content_hash, Case.number)
                .outerjoin(Case, CallTranscript.case_id == Case.id)
                .where(CallTranscript.call_key == key)).first()
        if row is None:
            return None
        stored_hash, number = row
        if stored_hash != digest:
            return ImportResult(source, "failed", number, f"call id already imported as "
                                f"{number} with a different transcript", call_key=key)
        return ImportResult(source, "skipped", number, "already imported", call_key=key)

    def _file(self, transcript: Transcript, key: str, digest: str, source: str,
              file_time: datetime) -> ImportResult:
        zone = self.settings.zone
        started = (transcript.started_at or file_time).astimezone(zone)
        reading = read_call([(t.speaker, t.text) for t in transcript.turns], started,
                            caller=transcript.caller, lang=transcript.language,
                            segmenter=self.engine.segmenter,
                            institution=self.engine.institution)
        draft = dict(reading.case)
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            caller = _caller_id(transcript.caller)
            identity = customers.identity_for(session, CHANNEL, caller or f"call:{key}", now)
            customer_id = identity.customer_id
            if draft.get("phone") and draft.get("phone") == _e164(transcript.caller):
                # The number the call came from: the telephone network vouches for it, so
                # the caller is linked to whoever else confirmed it. A number only spoken
                # stays on the case, linking no one.
                customer_id = customers.verify_phone(session, customer_id, draft["phone"], now,
                                                     draft.get("name"))
            number = cases.next_number(session, started.date(), self.settings.case_prefix)
            case = cases.file(session, draft, number=number, customer_id=customer_id,
                              conversation_id=None, channel=CHANNEL, now=now,
                              due=due_date(started.date(), self.settings.answer_days),
                              actor="hotline", received=started.date())
            vault.keep_call(session, self.settings, [t.text for t in transcript.turns
                                                     if t.speaker == CUSTOMER],
                            case_id=case.id, now=now)  # the caller's numbers, encrypted
            if case.missing:
                cases.flag_callback(session, case, "fields_missing", now,
                                    detail=", ".join(case.missing))
            assignment.on_filed(session, case, now)  # when a lead turned it on
            session.add(CallTranscript(
                call_key=key, call_id=transcript.call_id, content_hash=digest,
                case_id=case.id, caller=(transcript.caller or "")[:32] or None,
                agent_id=transcript.agent_id, language=reading.lang, format=transcript.format,
                source=source[:500], started_at=transcript.started_at,
                turns=[{"speaker": t.speaker, "text": text, "start": t.start, "end": t.end}
                       for t, text in zip(transcript.turns, masked_turns(
                           [(t.speaker, t.text) for t in transcript.turns]), strict=True)],
                imported_at=now))
            return ImportResult(source, "filed", case.number, priority=case.priority,
                                missing=tuple(case.missing or ()), call_key=key)


def transcript_of(session: Session, case: Case) -> CallTranscript | None:
    return session.scalar(select(CallTranscript).where(CallTranscript.case_id == case.id))


def _call_key(transcript: Transcript, digest: str) -> str:
    """By call id; without one, by the words and who called when (the same words from
    another caller, or on another day, are another call)."""
    if transcript.call_id:
        return f"id:{transcript.call_id.strip()}"
    when = transcript.started_at.isoformat() if transcript.started_at else ""
    seed = f"{digest}|{_caller_id(transcript.caller) or ''}|{when}"
    return f"sha256:{hashlib.sha256(seed.encode()).hexdigest()}"


def _implausible(started: datetime, received: datetime) -> str | None:
    if started > received + timedelta(minutes=10):
        return f"started_at {started.isoformat()} is in the future"
    if started.year < 2000:
        return f"started_at {started.isoformat()} is not a real call time"
    return None


def _e164(caller: str | None) -> str | None:
    found = find_phones(caller) if caller else []
    return found[0].e164 if found else None


def _caller_id(caller: str | None) -> str | None:
    """The calling number as an identity key: digits and a leading +, nothing else."""
    if not caller:
        return None
    digits = re.sub(r"[^\d+]", "", caller)
    return digits[:32] or None


