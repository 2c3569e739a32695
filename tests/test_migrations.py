"""Alembic migrations: empty database to head, previous revision to head with data kept, no drift."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from cinefoundry import migrations
from cinefoundry.core.db import make_engine
from cinefoundry.core.errors import WorkspaceError
from cinefoundry.workspace import DB_FILE, Workspace


def insert_title(conn: Connection, title_id: str, name: str) -> None:
    """A title row written with plain SQL, as a database made by an older version would hold it."""
    conn.execute(
        text("INSERT INTO titles (id, name, kind, extra, created_at) VALUES (:id, :name, 'feature', '{}', :t)"),
        {"id": title_id, "name": name, "t": "2020-01-01 00:00:00+00:00"},
    )


@pytest.fixture
def engine(tmp_path: Path, database_url: str | None) -> Engine:
    eng = create_engine(database_url or f"sqlite:///{tmp_path / 'm.db'}")
    yield eng
    eng.dispose()


def test_migrations_apply_to_an_empty_database(engine: Engine) -> None:
    assert migrations.current_revision(engine) is None
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"titles", "media_files", "performers", "characters", "rights_grants", "consents", "audit_log"} <= tables


def test_models_and_migrations_describe_the_same_schema(engine: Engine) -> None:
    migrations.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), migrations.target_metadata
        )
    assert diff == [], f"models differ from migrations; add a revision: {diff}"


def test_upgrade_from_the_previous_revision_keeps_data(engine: Engine) -> None:
    revisions = migrations.known_revisions()
    previous = revisions[-2]
    migrations.upgrade(engine, previous)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO titles (id, name, kind, extra, created_at) VALUES ('old', 'Old Film', 'feature', '{}', :t)"
            ),
            {"t": "2020-01-01 00:00:00+00:00"},
        )
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == revisions[-1]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM titles WHERE id = 'old'")).scalar_one() == "Old Film"


def test_opening_an_older_workspace_migrates_it_and_backs_it_up(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "studio")
    ws.close()
    db = tmp_path / "studio" / DB_FILE
    old = create_engine(f"sqlite:///{db}")
    migrations.command.downgrade(migrations.alembic_config(old), migrations.known_revisions()[-2])
    with old.begin() as conn:
        insert_title(conn, "keep", "K")
    old.dispose()
    reopened = Workspace.open(tmp_path / "studio")
    assert reopened.migrated_from == migrations.known_revisions()[-2]
    assert reopened.revision == migrations.head_revision()
    assert (db.parent / f"{DB_FILE}.rev{reopened.migrated_from}.bak").exists()
    with reopened.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM titles WHERE id = 'keep'")).scalar_one() == "K"
    reopened.close()


def test_element_kind_migration_keeps_referenced_titles(engine: Engine) -> None:
    """0007 rebuilds `titles` on SQLite: rows that reference a title survive it, foreign keys on or off."""
    revisions = migrations.known_revisions()
    migrations.upgrade(engine, "0006")
    with engine.begin() as conn:
        insert_title(conn, "film", "Film")
        conn.execute(text("INSERT INTO characters (id, title_id, name, performance) VALUES (1, 'film', 'H', 'voice')"))
    if engine.dialect.name == "sqlite":  # the workspace's own engine: foreign keys on, as every session has them
        engine = make_engine(str(engine.url))
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == revisions[-1]
    with engine.begin() as conn:
        assert conn.execute(text("SELECT title_id FROM characters WHERE id = 1")).scalar_one() == "film"
        conn.execute(text("UPDATE titles SET kind = 'element' WHERE id = 'film'"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE titles SET kind = 'newsreel' WHERE id = 'film'"))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


def test_a_workspace_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "studio").close()
    eng = create_engine(f"sqlite:///{tmp_path / 'studio' / DB_FILE}")
    with eng.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    eng.dispose()
    with pytest.raises(WorkspaceError, match="newer than this cinefoundry knows"):
        Workspace.open(tmp_path / "studio")
