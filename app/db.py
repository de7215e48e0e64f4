"""Engine creation and schema migrations.

SQLite (the default) runs in WAL mode with a busy timeout, foreign keys on and synchronous
FULL, so that an acknowledged judgment survives a killed server. PostgreSQL works through the
same URL form (postgresql+psycopg://...). The schema is created and upgraded by Alembic, never
by create_all, so an upgrade never drops judgments.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

DEFAULT_URL = "sqlite:///medalign.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The URL given, else MEDALIGN_DATABASE_URL, else a SQLite file in the working directory."""
    url = url or os.environ.get("MEDALIGN_DATABASE_URL") or DEFAULT_URL
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see make_engine)


def make_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        # Every transaction takes the write lock up front (BEGIN IMMEDIATE): a deferred
        # transaction that reads and then writes can fail with SQLITE_BUSY regardless of the
        # busy timeout when another writer commits in between. Serialising costs little at
        # tens of physicians and makes assignment free of races.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (one transaction: all of it or none)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        if sqlite:
            # Batch migrations rebuild tables, which SQLite refuses while other rows refer to
            # them; this pragma only takes effect outside a transaction. References are checked
            # before commit instead.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration would leave broken references: {broken[:5]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


def open_database(url: str | None = None) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine
