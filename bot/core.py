"""What every way of running the service needs: the store, the engine, the pipeline, the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine as Database
from sqlalchemy.orm import Session, sessionmaker

from channels.base import Sender
from workflow.engine import Engine

from .dispatcher import Dispatcher
from .live import Bulletin
from .metrics import Metrics
from .pipeline import Pipeline
from .settings import Settings, load_institution
from .store.db import make_engine, make_sessionmaker, migrate


@dataclass
class Core:
    settings: Settings
    db: Database
    sessions: sessionmaker[Session]
    metrics: Metrics
    pipeline: Pipeline
    dispatcher: Dispatcher
    bulletin: Bulletin


def build_core(settings: Settings, senders: dict[str, Sender] | None = None) -> Core:
    """Migrate the store, warm the engine, and wire pipeline and dispatcher to them."""
    db = make_engine(settings.database_url, connect_timeout=settings.db_connect_timeout_seconds,
                     timeout=settings.db_timeout_seconds,
                     sqlite_synchronous=settings.sqlite_synchronous)
    migrate(db)
    sessions = make_sessionmaker(db)
    engine = Engine(institution=load_institution(settings))  # a wrong file stops start-up
    engine.warm_up()
    metrics = Metrics()
    bulletin = Bulletin(db, sessions)
    pipeline = Pipeline(sessions, engine, settings, metrics, bulletin=bulletin)
    dispatcher = Dispatcher(sessions, dict(senders or {}), settings, metrics, bulletin=bulletin,
                            transaction=pipeline.transaction)
    return Core(settings, db, sessions, metrics, pipeline, dispatcher, bulletin)
