"""The database layer: migrations match the declared schema, SQLite in WAL with one writer, transactions."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, String, Table, func, inspect, select

from urbis.app import load_tables
from urbis.context.history import is_partition_table
from urbis.core.db import Database, alembic_config, metadata, migrate

#: Prefix of the throw-away tables these tests make, so they are easy to tell apart from the schema.
SCRATCH_PREFIX = "scratch_"


def _schema_differences(url: str) -> list[Any]:
    """What Alembic autogenerate would change to turn the migrated database at ``url`` into ``metadata``."""
    load_tables()
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    # Tables other storage tests make for themselves are not part of the schema.
                    # History partitions are made at run time by the writer, not by migrations.
                    "include_name": lambda name, kind, _parent: (
                        not (
                            kind == "table"
                            and name is not None
                            and (name.startswith(SCRATCH_PREFIX) or is_partition_table(name))
                        )
                    ),
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        db.dispose()


def _current_revision(url: str) -> str | None:
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        db.dispose()


def _scratch_table(name: str | None = None) -> Table:
    return Table(
        name or f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:10]}",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("label", String(50), nullable=False),
    )


@pytest.fixture
def scratch(database: Database) -> Iterator[Table]:
    """A throw-away table on each backend, dropped afterwards."""
    table = _scratch_table()
    table.create(database.engine)
    yield table
    table.drop(database.engine)


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite database file of its own."""
    db = Database(f"sqlite:///{tmp_path / 'own.db'}")
    yield db
    db.dispose()


def test_metadata_knows_the_whole_schema() -> None:
    load_tables()
    # Guards the comparison below against an empty metadata passing vacuously.
    assert {"tenants", "entities", "entity_types", "entity_geo", "auth_users", "auth_memberships"} <= set(
        metadata.tables
    )


def test_migrations_produce_exactly_the_declared_schema(db_url: str) -> None:
    differences = _schema_differences(db_url)
    assert differences == [], "migrations and urbis.core.db.metadata differ; write a migration:\n" + "\n".join(
        map(repr, differences)
    )


def test_migrated_database_is_at_head(db_url: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(db_url)).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    assert _current_revision(db_url) == heads[0]


def test_migrate_is_idempotent(db_url: str) -> None:
    before = _current_revision(db_url)
    migrate(db_url)
    migrate(db_url)
    assert _current_revision(db_url) == before
    assert _schema_differences(db_url) == []


def test_migrate_creates_a_fresh_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "fresh.db"
    url = f"sqlite:///{path}"
    db = Database(url)  # makes the folder
    db.dispose()
    migrate(url)
    assert path.exists()
    db = Database(url)
    try:
        tables = set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()
    load_tables()
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables
    assert _schema_differences(url) == []


def test_sqlite_uses_wal(sqlite_file: Database) -> None:
    assert sqlite_file.is_sqlite and not sqlite_file.is_postgres
    with sqlite_file.read() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_dialect_flags(database: Database, db_url: str) -> None:
    assert database.is_sqlite == db_url.startswith("sqlite")
    assert database.is_postgres == db_url.startswith("postgresql")
    assert database.is_sqlite != database.is_postgres


def _hammer(databases: list[Database], table: Table, threads_per_db: int, transactions: int) -> list[BaseException]:
    """Insert from many threads at once, each row in its own small transaction; the errors raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(databases) * threads_per_db)

    def worker(db: Database, worker_id: int) -> None:
        try:
            start.wait()
            for n in range(transactions):
                with db.write() as connection:
                    connection.execute(table.insert().values(id=worker_id * 10_000 + n, label=f"w{worker_id}"))
                    # A read inside the transaction, so each one holds the lock a little longer.
                    connection.execute(select(func.count()).select_from(table)).scalar()
        except BaseException as exc:  # noqa: BLE001 - collected and reported by the test
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(db, index * threads_per_db + t))
        for index, db in enumerate(databases)
        for t in range(threads_per_db)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "writers hung"
    return errors


def test_concurrent_writes_on_sqlite_never_hit_database_is_locked(sqlite_file: Database) -> None:
    table = _scratch_table()
    table.create(sqlite_file.engine)
    errors = _hammer([sqlite_file], table, threads_per_db=8, transactions=50)
    assert errors == [], f"{len(errors)} writers failed, first: {errors[0]!r}"
    with sqlite_file.read() as connection:
        assert connection.execute(select(func.count()).select_from(table)).scalar() == 8 * 50


def test_concurrent_writes_from_two_engines_on_one_sqlite_file(tmp_path: Path) -> None:
    # As with several server processes (workers) on one file: the in-process lock cannot help here,
    # BEGIN IMMEDIATE and the busy timeout must.
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    databases = [Database(url), Database(url)]
    try:
        table = _scratch_table()
        table.create(databases[0].engine)
        errors = _hammer(databases, table, threads_per_db=4, transactions=25)
        assert errors == [], f"{len(errors)} writers failed, first: {errors[0]!r}"
        with databases[1].read() as connection:
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 2 * 4 * 25
    finally:
        for db in databases:
            db.dispose()


def test_write_commits_on_success(database: Database, scratch: Table) -> None:
    with database.write() as connection:
        connection.execute(scratch.insert().values(id=1, label="kept"))
    with database.read() as connection:
        assert connection.execute(select(scratch.c.label)).scalars().all() == ["kept"]


def test_write_rolls_back_on_exception(database: Database, scratch: Table) -> None:
    with database.write() as connection:
        connection.execute(scratch.insert().values(id=1, label="before"))

    class Boom(Exception):
        pass

    with pytest.raises(Boom), database.write() as connection:
        connection.execute(scratch.insert().values(id=2, label="lost"))
        connection.execute(scratch.update().values(label="changed"))
        raise Boom
    with database.read() as connection:
        rows = connection.execute(select(scratch.c.id, scratch.c.label).order_by(scratch.c.id)).all()
    assert [tuple(row) for row in rows] == [(1, "before")]


def test_write_is_usable_again_after_a_rollback(database: Database, scratch: Table) -> None:
    with pytest.raises(ZeroDivisionError), database.write() as connection:
        connection.execute(scratch.insert().values(id=1, label="lost"))
        _ = 1 / 0
    # On SQLite the writer lock must have been released, or this would block forever.
    done = threading.Event()

    def write_again() -> None:
        with database.write() as connection:
            connection.execute(scratch.insert().values(id=1, label="second try"))
        done.set()

    thread = threading.Thread(target=write_again, daemon=True)
    thread.start()
    assert done.wait(timeout=30), "write() stayed locked after an exception"
    with database.read() as connection:
        assert connection.execute(select(scratch.c.label)).scalars().all() == ["second try"]


def test_migrate_creates_the_folder_of_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "not" / "there" / "yet.db"
    migrate(f"sqlite:///{path}")
    assert path.is_file()
