"""Alembic migrations of the metadata database, run programmatically (no alembic.ini needed)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

import cinefoundry.catalog.models
import cinefoundry.dataset.models
import cinefoundry.ingest.models
import cinefoundry.provenance.models
import cinefoundry.registry.models
import cinefoundry.storyboard.models  # noqa: F401  (registers the ingest, dataset, registry, provenance, storyboard tables)
from cinefoundry.core.audit import AuditEntry  # noqa: F401  (registers audit_log)
from cinefoundry.core.db import Base

target_metadata: MetaData = Base.metadata


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at this package's scripts; `engine` is handed to env.py."""
    cfg = Config()
    cfg.set_main_option("script_location", "cinefoundry:migrations")
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest revision this version of cinefoundry knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision`; data already there is kept."""
    command.upgrade(alembic_config(engine), revision)
