"""Workspace: init creates database, store and settings; reopening keeps data; settings and env overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cinefoundry.catalog.models import Title
from cinefoundry.core.errors import WorkspaceError
from cinefoundry.core.settings import resolve_home
from cinefoundry.workspace import DB_FILE, Workspace


def test_init_creates_database_store_and_settings(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "studio", territory="FR", tenant="acme")
    home = tmp_path / "studio"
    assert (home / DB_FILE).exists()
    assert (home / "objects").is_dir()
    settings = tomllib.loads((home / "settings.toml").read_text())
    assert settings == {"territory": "FR", "tenant": "acme"}
    assert ws.created and ws.describe()["schema_revision"] == ws.revision
    ws.close()


def test_init_on_an_existing_workspace_keeps_its_data(ws: Workspace) -> None:
    with ws.session("test") as s:
        s.add(Title(id="kept", name="Kept", kind="feature", extra={}))
    again = Workspace.init(ws.home)
    assert not again.created
    assert "already holds a workspace" in again.notes[0]
    with again.session("test") as s:
        assert s.get(Title, "kept") is not None
    again.close()


def test_init_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not empty"):
        Workspace.init(tmp_path)


def test_open_without_a_workspace_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"no cinefoundry workspace .* `cinefoundry init --home"):
        Workspace.open(tmp_path / "nothing")


def test_home_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_home() == tmp_path / "studio"
    monkeypatch.setenv("CINEFOUNDRY_HOME", str(tmp_path / "elsewhere"))
    assert resolve_home() == tmp_path / "elsewhere"
    assert resolve_home(tmp_path / "given") == tmp_path / "given"


def test_environment_overrides_the_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    Workspace.init(tmp_path / "studio").close()
    other = tmp_path / "other.db"
    monkeypatch.setenv("CINEFOUNDRY_DATABASE_URL", f"sqlite:///{other}")
    monkeypatch.setenv("CINEFOUNDRY_TERRITORY", "DE")
    ws = Workspace.open(tmp_path / "studio")
    assert ws.settings.territory == "DE"
    assert other.exists(), "the database named by the environment was created and migrated"
    ws.close()
