"""A workspace: settings file, metadata database (migrated on open), object store, audited sessions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from cinefoundry import migrations
from cinefoundry.core.audit import install_audit_hook
from cinefoundry.core.db import make_engine, make_sessionmaker
from cinefoundry.core.errors import WorkspaceError
from cinefoundry.core.settings import SETTINGS_FILE, WorkspaceSettings, resolve_home, write_settings_file
from cinefoundry.core.store import ObjectStore
from cinefoundry.provenance.pki import PKI_DIR, make_test_pki

DB_FILE = "catalog.db"
OBJECTS_DIR = "objects"
CLIPS_DIR = "clips.lance"


@dataclass
class Workspace:
    """An opened workspace. Use `Workspace.init` to create one and `Workspace.open` to use it."""

    home: Path
    settings: WorkspaceSettings
    engine: Engine
    store: ObjectStore
    sessions: sessionmaker
    migrated_from: str | None = None
    created: bool = False
    notes: list[str] = field(default_factory=list)

    @classmethod
    def init(
        cls,
        home: str | Path | None = None,
        database_url: str | None = None,
        territory: str | None = None,
        tenant: str | None = None,
    ) -> Workspace:
        """Create a workspace in `home`; on an existing one, migrate it and keep everything in it."""
        path = resolve_home(home)
        if (path / SETTINGS_FILE).exists():
            ws = cls.open(path)
            ws.notes.append(f"{path} already holds a workspace; kept it (schema at {ws.revision})")
            return ws
        if path.exists() and any(path.iterdir()):
            raise WorkspaceError(f"{path} exists and is not empty; choose an empty or new folder for a workspace")
        path.mkdir(parents=True, exist_ok=True)
        write_settings_file(
            path, {"database_url": database_url, "territory": territory or "WW", "tenant": tenant or "studio"}
        )
        ws = cls.open(path)
        ws.store.create()
        make_test_pki(path / PKI_DIR, ws.settings.tenant)  # outputs are signed from the first run
        ws.created = True
        return ws

    @classmethod
    def open(cls, home: str | Path | None = None) -> Workspace:
        """Open the workspace in `home`, migrating its database if an older cinefoundry made it."""
        path = resolve_home(home)
        if not (path / SETTINGS_FILE).exists():
            raise WorkspaceError(f"no cinefoundry workspace at {path}: run `cinefoundry init --home {path}` first")
        settings = WorkspaceSettings.load(path)
        url = settings.database_url or f"sqlite:///{path / DB_FILE}"
        engine = make_engine(url)
        store = ObjectStore(settings.store_url or path / OBJECTS_DIR)
        sessions = make_sessionmaker(engine)
        install_audit_hook(sessions)
        ws = cls(home=path, settings=settings, engine=engine, store=store, sessions=sessions)
        ws.migrated_from = ws._migrate()
        return ws

    @property
    def revision(self) -> str | None:
        return migrations.current_revision(self.engine)

    @property
    def clips_uri(self) -> str:
        """Where the clip catalog (Lance) lives: `clips_url` in settings, else clips.lance in the workspace."""
        return self.settings.clips_url or str(self.home / CLIPS_DIR)

    @property
    def actor(self) -> str:
        return self.settings.actor()

    @contextmanager
    def session(self, action: str = "change") -> Iterator[Session]:
        """A transaction: commits when the block ends, rolls back on error; changes are audited as `action`."""
        with self.sessions() as session:
            session.info["actor"] = self.actor
            session.info["action"] = action
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def describe(self) -> dict[str, Any]:
        """What the workspace is made of, for `init` and `--json` output."""
        return {
            "home": str(self.home),
            "database": make_url(str(self.engine.url)).render_as_string(hide_password=True),
            "store": self.store.root_url,
            "clip_catalog": self.clips_uri,
            "schema_revision": self.revision,
            "tenant": self.settings.tenant,
            "territory": self.settings.territory,
            "created": self.created,
            "migrated_from": self.migrated_from,
            "notes": self.notes,
        }

    def close(self) -> None:
        self.engine.dispose()

    def _migrate(self) -> str | None:
        """Bring the schema to head; returns the revision it was at when it had to move, else None."""
        current, head = migrations.current_revision(self.engine), migrations.head_revision()
        if current == head:
            return None
        if current is not None and current not in migrations.known_revisions():
            raise WorkspaceError(
                f"the database of {self.home} is at schema revision {current}, newer than this cinefoundry "
                f"knows (head {head}); upgrade cinefoundry to open it"
            )
        if current is not None and self.engine.url.get_backend_name() == "sqlite":
            self._backup_sqlite(current)
        migrations.upgrade(self.engine)
        return current or "empty"

    def _backup_sqlite(self, revision: str) -> None:
        """Copy the SQLite file before migrating it, with SQLite's online backup (consistent under WAL)."""
        db_path = Path(self.engine.url.database or "")
        backup = db_path.with_name(f"{db_path.name}.rev{revision}.bak")
        src, dst = sqlite3.connect(db_path), sqlite3.connect(backup)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        self.notes.append(f"backed up the database at revision {revision} to {backup.name} before migrating")
