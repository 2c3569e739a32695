"""Fixtures: the sample library, a database per backend (SQLite file; PostgreSQL when configured), workspaces."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cinefoundry.catalog.importer import ImportReport, import_catalog
from cinefoundry.demo import find_samples
from cinefoundry.workspace import Workspace

PG_ENV = "CINEFOUNDRY_TEST_DATABASE_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their own database and workspace; the caller's environment must not leak in."""
    for name in ("CINEFOUNDRY_DATABASE_URL", "CINEFOUNDRY_HOME", "CINEFOUNDRY_STORE_URL", "CINEFOUNDRY_TERRITORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CINEFOUNDRY_USER", "tester")


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real sample library (../shared/samples or $CINEFOUNDRY_SAMPLES); tests fail loudly without it."""
    return find_samples()


def _pg_schema_url(base: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL server for one test (or one session fixture), dropped afterwards."""
    schema = f"cf_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _database(backend: str, folder: Path) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None  # the workspace's own SQLite file
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (.ci/run sets it when a local PostgreSQL server is up)")
    yield from _pg_schema_url(base)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the workspace) or the URL of a fresh PostgreSQL schema."""
    yield from _database(request.param, tmp_path)


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    """A new, empty workspace on each backend."""
    workspace = Workspace.init(tmp_path / "studio", database_url=database_url)
    yield workspace
    workspace.close()


@pytest.fixture(scope="session", params=BACKENDS)
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, samples: Path):
    """One workspace per backend with the sample library imported (shared: tests must not change it)."""
    yield from _imported(request.param, tmp_path_factory.mktemp("imported"), samples)


def _imported(backend: str, folder: Path, samples: Path) -> Iterator[tuple[Workspace, ImportReport]]:
    for url in _database(backend, folder):
        workspace = Workspace.init(folder / "studio", database_url=url)
        report = import_catalog(samples, workspace.session, workspace.actor, workers=2)
        yield workspace, report
        workspace.close()


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory, samples: Path):
    """The samples imported and ingested once (SQLite, local executor, 2 workers): shared, read-only."""
    from cinefoundry.ingest.catalog import ClipCatalog
    from cinefoundry.ingest.run import run_ingest

    workspace = Workspace.init(tmp_path_factory.mktemp("ingested") / "studio")
    assert import_catalog(samples, workspace.session, workspace.actor, workers=2).ok
    report = run_ingest(workspace.session, workspace.store, ClipCatalog(workspace.clips_uri), workers=2)
    yield workspace, report
    workspace.close()


def clip_set(workspace: Workspace) -> list[tuple]:
    """Every clip as (id, title, time range, video sha256, caption): equal sets mean identical ingests."""
    from cinefoundry.ingest.catalog import DEFAULT_CAPTION, ClipCatalog

    cols = ["clip_id", "title_id", "start_s", "end_s", "video_sha256", DEFAULT_CAPTION]
    return sorted(tuple(r[c] for c in cols) for r in ClipCatalog(workspace.clips_uri).rows(columns=cols))


@pytest.fixture(scope="session")
def tiny_studio(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Iterator[Workspace]:
    """A tiny model `gm` trained on two synthetic titles (64x64, 17 frames at 8 fps), in a workspace that also
    holds the sample catalog (so the likeness guard knows Tears of Steel's cast). Shared by generation and
    storyboard tests, which only add outputs to it."""
    import json

    from cinefoundry.dataset.build import BuildSettings, build_dataset
    from cinefoundry.ingest.catalog import ClipCatalog
    from cinefoundry.ingest.run import run_ingest
    from cinefoundry.models.recipes import get_recipe
    from cinefoundry.testing.film import make_shots
    from cinefoundry.train.run import TrainRequest, train_model

    folder = tmp_path_factory.mktemp("generate")
    rows = []
    for i, title in enumerate(["Alpha", "Beta"]):
        make_shots(folder / f"{title}.mp4", [72, 80, 76], size=(128, 72), seed=i + 3)
        rows.append({"title": title, "kind": "short", "media": f"{title}.mp4", "licence": "CC-BY-4.0",
                     "attribution": f"{title} (c) test studio, CC BY 4.0"})  # fmt: skip
    (folder / "m.json").write_text(json.dumps(rows))
    ws = Workspace.init(folder / "studio")
    assert import_catalog(folder / "m.json", ws.session, ws.actor).ok
    assert import_catalog(samples, ws.session, ws.actor, workers=2).ok
    assert run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri), titles=["alpha", "beta"]).ok
    build_dataset(ws.session, ClipCatalog(ws.clips_uri), ws.store, "gd",
                  BuildSettings(width=64, height=64, frames=17, fps=8, titles=("alpha", "beta")), ws.actor)  # fmt: skip
    recipe = get_recipe("tiny").with_overrides(buckets=((17, 48, 48), (17, 32, 64)))  # preview and 2:1 buckets
    train_model(ws, TrainRequest("gd", recipe, "gm"))
    yield ws
    ws.close()
