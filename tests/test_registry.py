"""Model registry: numbered versions with lineage down to every title grant, parent chains, look-ups, and
models marked affected (never deleted) when a title they relied on is removed from a dataset."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.cli import app
from cinefoundry.core.audit import AuditEntry, verify
from cinefoundry.core.errors import CinefoundryError, NotFoundError
from cinefoundry.dataset.build import BuildSettings, build_dataset, latest_version
from cinefoundry.dataset.models import DatasetTitle
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.run import run_ingest
from cinefoundry.registry.registry import (
    affected_models,
    code_version,
    find_model,
    lineage,
    record_metrics,
    register_model,
)
from cinefoundry.testing.film import make_shots
from cinefoundry.workspace import Workspace
from conftest import BACKENDS, _database

runner = CliRunner()
TITLES = [("Alpha", "CC-BY-4.0"), ("Beta", "CC0-1.0"), ("Gamma", "ACME-1"), ("Delta", "CC-BY-4.0")]
DATASETS = {"ds": ("alpha", "beta", "gamma"), "ab": ("alpha", "beta"), "g": ("gamma",), "wd": ("alpha", "delta")}


@pytest.fixture(scope="module", params=BACKENDS)
def library(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Four synthetic titles ingested once per backend, and four datasets over them (see DATASETS).

    Shared by the module: each test registers models under its own names, and only the remove-title test
    touches `delta`, so tests do not depend on their order."""
    folder = tmp_path_factory.mktemp("registry")
    for url in _database(request.param, folder):
        rows = []
        for i, (title, licence) in enumerate(TITLES):
            make_shots(folder / f"{title}.mp4", [40 + i, 80], size=(160, 90), seed=i + 1)
            row = {"title": title, "kind": "short", "media": f"{title}.mp4", "licence": licence}
            rows.append(row | ({"uses": "train", "territories": "WW"} if licence == "ACME-1" else {}))
        (folder / "m.json").write_text(json.dumps(rows))
        ws = Workspace.init(folder / "studio", database_url=url)
        assert import_catalog(folder / "m.json", ws.session, ws.actor).ok
        assert run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri)).ok
        for name, titles in DATASETS.items():
            settings = BuildSettings(width=64, height=64, frames=9, fps=8, titles=titles)
            build_dataset(ws.session, ClipCatalog(ws.clips_uri), ws.store, name, settings, ws.actor)
        yield ws
        ws.close()


def register(ws: Workspace, name: str, dataset: str | None, parent: str | None = None, **extra) -> dict:
    """Register a model the way `train` will: in one audited session; returns its `as_dict()`."""
    with ws.session("registry.register") as s:
        model = register_model(
            s,
            name=name,
            tenant=extra.pop("tenant", "studio"),
            recipe="tiny",
            config={"recipe": "tiny", "steps": 10},
            dataset=latest_version(s, dataset) if dataset else None,
            parent=find_model(s, parent) if parent else None,
            base_weights=extra.pop("base_weights", None),
            path=f"models/{name}",
            actor=ws.actor,
            **extra,
        )
        return model.as_dict()


def cli(*args: str, code: int = 0) -> dict | list:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}"
    return json.loads(result.stdout)


def test_versions_are_numbered_per_name_and_found_by_name_label_or_id(library: Workspace) -> None:
    first, second = register(library, "twice", "ds"), register(library, "twice", "ab", lora_rank=8)
    assert (first["label"], second["label"]) == ("twice@v1", "twice@v2")
    assert (second["dataset"], second["lora_rank"], second["status"]) == ("ab@v1", 8, "trained")
    assert second["licence"] == "proprietary: exclusive to studio" and second["metrics"] == {}
    with library.session("t") as s:
        assert find_model(s, "twice").label == "twice@v2", "a bare name is the newest version"
        assert find_model(s, "twice@v1").id == first["id"]
        assert find_model(s, str(second["id"])).label == find_model(s, second["id"]).label == "twice@v2"
        with pytest.raises(NotFoundError, match=r"no model 'twcie'; did you mean twice"):
            find_model(s, "twcie")
        with pytest.raises(NotFoundError, match=r"no model 'twice@v9'"):
            find_model(s, "twice@v9")
        with pytest.raises(NotFoundError, match="no model '999999'"):
            find_model(s, "999999")
    with pytest.raises(CinefoundryError, match="versions are numbered"):
        register(library, "twice@v3", "ds")
    with pytest.raises(CinefoundryError, match="needs a dataset version, a parent model or base weights"):
        register(library, "nothing", None)


def test_a_model_is_linked_to_exactly_its_dataset_versions_grants(library: Workspace) -> None:
    model = register(library, "linked", "ds")
    with library.session("t") as s:
        found = find_model(s, "linked")
        dataset_grants = {
            (t.title_id, t.grant_id)
            for t in s.scalars(select(DatasetTitle).where(DatasetTitle.version_id == model["dataset_version_id"]))
        }
        assert {(g.title_id, g.grant_id) for g in found.grants} == dataset_grants
        assert [t for t, _ in sorted(dataset_grants)] == ["alpha", "beta", "gamma"]
        doc = lineage(s, found)
    assert doc["dataset"] == "ds@v1" and len(doc["dataset_content_hash"]) == 64
    licences = {t["title_id"]: (t["licence"], t["grant_status"]) for t in doc["titles"]}
    assert licences == {"alpha": ("CC-BY-4.0", "active"), "beta": ("CC0-1.0", "active"), "gamma": ("ACME-1", "active")}
    assert doc["code_version"] == model["code_version"] == code_version()


def test_a_fine_tuned_model_inherits_its_parents_grants_and_lineage_walks_the_chain(library: Workspace) -> None:
    base = register(library, "base", None, base_weights="wan2.1-t2v-1.3b sha256:0123abcd")
    tuned = register(library, "tuned", "ab", parent="base")
    tuned_again = register(library, "tuned-g", "g", parent="tuned", lora_rank=16)
    assert (base["dataset"], tuned["parent"], tuned_again["parent"]) == (None, "base@v1", "tuned@v1")
    with library.session("t") as s:
        base_model, leaf = find_model(s, "base"), find_model(s, "tuned-g")
        assert base_model.grants == [], "imported weights rely on no title of ours"
        doc = lineage(s, leaf)
        by_alpha = {m.label for m in affected_models(s, "alpha")}
        by_gamma = {m.label for m in affected_models(s, "gamma")}
    assert [t["title_id"] for t in doc["titles"]] == ["alpha", "beta", "gamma"], "ab (from the parent) plus g"
    assert doc["parents"] == ["tuned@v1", "base@v1"] and doc["parent_datasets"] == ["ab@v1", None]
    assert doc["base_weights"] == "wan2.1-t2v-1.3b sha256:0123abcd", "inherited from the root of the chain"
    assert (doc["dataset"], doc["lora_rank"]) == ("g@v1", 16)
    assert {"tuned@v1", "tuned-g@v1"} <= by_alpha and "base@v1" not in by_alpha
    assert "tuned-g@v1" in by_gamma and "tuned@v1" not in by_gamma


def test_metrics_merge_and_every_change_is_audited(library: Workspace) -> None:
    model = register(library, "measured", "ab", metrics={"val_loss": 0.9})
    with library.session("registry.metrics") as s:
        m = find_model(s, "measured")
        record_metrics(s, m, {"val_loss": 0.5, "psnr": 31.2})
    with library.session("t") as s:
        assert find_model(s, "measured").metrics == {"val_loss": 0.5, "psnr": 31.2}
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.entity == "models", AuditEntry.entity_id == str(model["id"]))
        ).all()
        assert [(e.op, e.action) for e in entries] == [("insert", "registry.register"), ("update", "registry.metrics")]
        assert json.loads(entries[1].after)["metrics"] == {"psnr": 31.2, "val_loss": 0.5}
        assert verify(s).ok


def test_removing_a_title_marks_the_models_that_relied_on_it_affected(library: Workspace) -> None:
    register(library, "on-wd", "wd")
    register(library, "child-of-wd", "ab", parent="on-wd")  # its own dataset lacks delta: the parent had it
    register(library, "clean", "ds")
    home = str(library.home)
    removed = cli("dataset", "remove-title", "wd", "Delta", "--reason", "licence ended", "--home", home)
    assert removed["version"]["label"] == "wd@v2"
    assert [a["label"] for a in removed["affected_dataset_versions"]] == ["wd@v1"]
    affected = {m["label"]: m for m in removed["affected_models"]}
    assert sorted(affected) == ["child-of-wd@v1", "on-wd@v1"]
    assert affected["on-wd@v1"]["dataset"] == "wd@v1" and affected["child-of-wd@v1"]["dataset"] == "ab@v1"
    shown = cli("models", "show", "on-wd", "--home", home)
    assert (
        shown["status"] == "affected"
        and shown["status_note"] == "delta removed from wd (new version wd@v2): licence ended"
    )
    assert [t["title_id"] for t in shown["lineage"]["titles"]] == ["alpha", "delta"], "history is kept"
    assert cli("models", "show", "clean", "--home", home)["status"] == "trained"
    with library.session("t") as s:
        [entry] = s.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "models",
                AuditEntry.entity_id == str(shown["id"]),
                AuditEntry.action == "dataset.remove_title",
            )
        ).all()
        assert json.loads(entry.after)["status"] == "affected" and json.loads(entry.before)["status"] == "trained"
        assert verify(s).ok


def test_models_list_and_show_on_the_command_line(library: Workspace) -> None:
    register(library, "listed", "ds", tenant="indie")
    home = str(library.home)
    everyone = cli("models", "list", "--home", home)
    assert "listed@v1" in [m["label"] for m in everyone]
    [indie] = cli("models", "list", "--tenant", "indie", "--home", home)
    assert (indie["label"], indie["dataset"], indie["parent"]) == ("listed@v1", "ds@v1", None)
    assert indie["licence"] == "proprietary: exclusive to indie"
    shown = cli("models", "show", "listed@v1", "--home", home)
    assert shown["config"] == {"recipe": "tiny", "steps": 10} and shown["path"] == "models/listed"
    assert shown["lineage"]["dataset"] == "ds@v1" and len(shown["lineage"]["titles"]) == 3
    missing = cli("models", "show", "lsted", "--home", home, code=1)
    assert missing["error"].startswith("no model 'lsted'; did you mean listed") and "listed@v1" not in missing["error"]
    human = runner.invoke(app, ["models", "show", "listed", "--home", home])
    assert human.exit_code == 0 and "titles and grants relied on" in human.stdout


def test_code_version_is_the_git_commit_or_the_package_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    version = code_version()
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent)  # fmt: skip
    if head.returncode == 0:  # this checkout
        assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", version) and version.startswith(head.stdout.strip())
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on the PATH at all
    assert re.fullmatch(r"cinefoundry \S+", code_version())
