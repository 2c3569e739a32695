"""The CLI as a user drives it: every command takes --json; exit codes say allowed/denied/failed."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cinefoundry.cli import app
from cinefoundry.testing.film import make_shots
from cinefoundry.testing.synth import make_video

runner = CliRunner()


def run(*args: str, code: int = 0) -> dict | list:
    """Invoke the CLI with --json; check the exit code; return the parsed JSON document."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}"
    return json.loads(result.stdout)


def leaf_commands(group, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            out += leaf_commands(cmd, f"{prefix}{name} ")
        else:
            out.append((prefix + name, cmd))
    return out


def test_every_command_accepts_json() -> None:
    commands = leaf_commands(typer.main.get_command(app))
    assert len(commands) == 41, [name for name, _ in commands]
    missing = [name for name, cmd in commands if not any("--json" in p.opts for p in cmd.params)]
    assert missing == []


@pytest.fixture
def home(tmp_path: Path) -> str:
    make_video(tmp_path / "reel.mp4", frames=20)
    (tmp_path / "catalog.csv").write_text(
        "title,year,kind,media,licence,cast,characters\n"
        "Harbour Lights,2019,feature,reel.mp4,CC-BY-4.0,Ann Lead; Bob Side,Mara=Ann Lead:on_screen\n"
    )
    path = str(tmp_path / "studio")
    info = run("init", "--home", path, "--territory", "fra")
    assert info["created"] and info["territory"] == "FR"
    report = run("catalog", "import", str(tmp_path / "catalog.csv"), "--home", path)
    assert report["counts"]["created"] == 1
    return path


def test_catalog_and_rights_session(home: str) -> None:
    [title] = run("catalog", "list", "--home", home)
    assert (title["id"], title["frames"], title["uses"]) == ("harbour-lights", 20, ["generate", "train"])
    detail = run("catalog", "show", "Harbour Lights", "--home", home)
    assert detail["media_files"][0]["frame_count"] == 20 and len(detail["cast"]) == 2

    allowed = run("rights", "check", "harbour-lights", "--use", "train", "--home", home)
    assert allowed["ok"] and allowed["territory"] == "FR", "the workspace's territory is the default"
    denied = run("rights", "check", "harbour-lights", "--use", "reference", "--home", home, code=1)
    assert denied["reason"] == "Harbour Lights (harbour-lights): no grant for 'reference'"

    g = run("rights", "grant", "harbour-lights", "--use", "reference", "--licence", "ACME-7", "--territory", "US",
            "--until", "2030-01-01", "--restrictions", "stills only", "--home", home)  # fmt: skip
    assert (g["territories"], g["status"], g["attribution_required"]) == (["US"], "active", False)
    review = run("rights", "check", "harbour-lights", "--use", "reference", "--territory", "US", "--home", home, code=1)
    assert "need legal review: 'stills only'" in review["reason"]

    revoked = run("rights", "revoke", "1", "--reason", "licence ended", "--home", home)
    assert revoked["status"] == "revoked"
    later = run("rights", "check", "harbour-lights", "--use", "train", "--home", home, code=1)
    assert "revoked on" in later["reason"] and "licence ended" in later["reason"]
    assert [x["status"] for x in run("rights", "list", "--home", home)] == ["revoked", "active"]
    assert run("rights", "revoke", "1", "--reason", "again", "--home", home, code=1)["error"].startswith(
        "grant #1 was already revoked"
    )


def test_talent_and_consent_session(home: str, tmp_path: Path) -> None:
    people = run("talent", "list", "--home", home)
    assert [p["name"] for p in people] == ["Ann Lead", "Bob Side"]
    added = run("talent", "add", "Ann Lead", "--alias", "Annie L.", "--home", home)
    assert not added["created"] and added["aliases"] == ["Annie L."]
    assert run("talent", "show", "annie l.", "--home", home)["name"] == "Ann Lead", "found by alias"

    refused = run("talent", "check", "Ann Lead", "--kind", "synthetic_likeness", "--home", home, code=1)
    assert refused["reason"] == "Ann Lead: no synthetic_likeness consent on record"
    signed = tmp_path / "consent.pdf"
    signed.write_bytes(b"%PDF signed consent")
    consent = run("talent", "consent", "add", "Ann Lead", "--kind", "synthetic_likeness",
                  "--title", "harbour-lights", "--use", "generate",
                  "--description", "previs of the harbour chase, not final pixel", "--representation", "union",
                  "--document", str(signed), "--territory", "FR", "--home", home)  # fmt: skip
    assert consent["document_sha256"] == hashlib.sha256(b"%PDF signed consent").hexdigest()
    ok = run("talent", "check", "Ann Lead", "--kind", "synthetic_likeness", "--title", "harbour-lights", "--home", home)
    assert ok["ok"] and ok["basis"] == f"consent:{consent['id']}"
    run("talent", "consent", "revoke", str(consent["id"]), "--reason", "withdrawn", "--home", home)
    assert [c["status"] for c in run("talent", "consent", "list", "Ann Lead", "--home", home)] == ["revoked"]
    missing = run("talent", "check", "Ann Leed", "--kind", "digital_replica", "--home", home, code=1)
    assert missing["error"] == "no performer 'Ann Leed'; did you mean Ann Lead?"


def test_errors_are_json_documents_with_exit_codes(home: str, tmp_path: Path) -> None:
    assert run("catalog", "show", "Nope", "--home", home, code=1) == {"ok": False, "error": "no title 'Nope'"}
    bad = run("rights", "grant", "harbour-lights", "--use", "fly", "--licence", "X", "--home", home, code=2)
    assert bad["error"] == "uses: unknown use 'fly': one of train, generate, reference"
    nowhere = run("catalog", "list", "--home", str(tmp_path / "none"), code=1)
    assert nowhere["error"].startswith("no cinefoundry workspace at")


def test_audit_verify_passes_then_fails_after_a_row_is_altered_in_sqlite(home: str) -> None:
    assert run("audit", "verify", "--home", home)["ok"]
    log = run("audit", "log", "--limit", "3", "--home", home)
    assert len(log) == 3 and all(e["actor"] == "tester" for e in log)
    db = sqlite3.connect(Path(home) / "catalog.db")
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    db.commit()
    db.close()
    report = run("audit", "verify", "--home", home, code=1)
    assert report["problems"] == [{"seq": 2, "problem": "content was altered: hash does not match"}]


def test_the_console_script_runs_the_demo(tmp_path: Path, samples: Path) -> None:
    """The README's demo command, as installed: a real process, the real samples, a fresh SQLite workspace."""
    exe = Path(sys.executable).with_name("cinefoundry")
    env = os.environ | {"CINEFOUNDRY_SAMPLES": str(samples), "COLUMNS": "120"}
    # a guard against hangs only: the tiny demo took 2-4 min on a 2-core VM (4 min beside other work)
    done = subprocess.run(
        [exe, "demo", "--recipe", "tiny", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["import"]["frames_match"]
    titles = ["big_buck_bunny", "sintel", "sintel_trailer", "tears_of_steel"]
    assert [t["id"] for t in result["import"]["titles"]] == titles
    assert [c["performer"] for c in result["talent"]["likeness_checks"] if not c["ok"]] == [
        "Vanja Rukavina", "Denise Rebergen"]  # fmt: skip
    assert result["ingest"]["titles_with_clips"] == titles
    assert all(t["rejected"] for t in result["ingest"]["titles"]), "every title has rejects, each with a reason"
    assert result["dataset"]["version"]["label"] == "demo@v1"
    assert len(result["dataset"]["attribution_lines"]) == 4
    assert result["train"]["model"]["label"] == "demo@v1" and result["eval"]["title_recognition"]["clips"] == 8
    assert all("CC BY 3.0" in line for line in result["dataset"]["attribution_lines"])
    elements = result["elements"]
    assert elements["titles"] == ["element_library_fire", "element_library_explosion", "element_library_sparks"]
    assert elements["model"] == "elements@v1" and all(elements["clips_kept"].values())
    element = next(t for t in result["generate"]["takes"] if "alpha" in t)
    assert element["file"].endswith(".mov") and element["manifest"] == "Trusted"
    again = subprocess.run(
        [exe, "demo", "--recipe", "tiny"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr
    assert "frame counts measured by decoding match title.json for 8/8 files" in again.stdout
    assert "6. dataset demo@v1" in again.stdout, "the demo recreates its workspace, so the version is v1 again"
    assert "demo ok" in again.stdout


def test_ingest_clips_and_dataset_session(tmp_path: Path) -> None:
    for i, name in enumerate(("one", "two")):
        make_shots(tmp_path / f"{name}.mp4", [30, 60], size=(160, 90), seed=10 + i)
    (tmp_path / "m.csv").write_text(
        "title,kind,media,licence,attribution\n"
        "One,short,one.mp4,CC-BY-4.0,One (c) Studio\n"
        "Two,short,two.mp4,CC-BY-4.0,Two (c) Studio\n"
    )
    home = str(tmp_path / "studio")
    run("init", "--home", home)
    run("catalog", "import", str(tmp_path / "m.csv"), "--home", home)
    report = run("ingest", "--home", home, "--workers", "1")
    assert report["ok"] and [t["clips"] for t in report["titles"]] == [2, 2]
    clips = run("clips", "list", "--home", home)
    assert len(clips) == 4 and all(c["reject_reasons"] == [] or c["reject_reasons"] for c in clips)
    shown = run("clips", "show", clips[0]["clip_id"][:10], "--home", home)
    assert shown["media_uri"].endswith(".mp4") and "video" not in shown
    sheet = run("clips", "sheet", "one", "--out", str(tmp_path / "sheet.png"), "--home", home)
    assert sheet["clips"] == 2 and (tmp_path / "sheet.png").stat().st_size > 1000
    exported = run("clips", "export", clips[0]["clip_id"], "--out", str(tmp_path / "clip.mp4"), "--home", home)
    assert Path(exported["path"]).read_bytes()[4:8] == b"ftyp"
    built = run("dataset", "build", "ds", "--frames", "9", "--home", home)
    assert built["created"] and [t["title_id"] for t in built["titles"]] == ["one", "two"]
    audit = run("dataset", "audit", "ds", "--home", home)
    assert audit["attribution_lines"] == ["One (c) Studio", "Two (c) Studio"]
    assert Path(audit["summary_path"]).read_text().startswith("# Summary of training content: ds@v1")
    removed = run("dataset", "remove-title", "ds", "two", "--reason", "takedown", "--home", home)
    assert removed["version"]["label"] == "ds@v2" and [a["label"] for a in removed["affected_dataset_versions"]] == [
        "ds@v1"
    ]
    assert [v["label"] for v in run("dataset", "list", "--home", home)] == ["ds@v1", "ds@v2"]
    assert run("dataset", "build", "ds", "--size", "60x60", "--home", home, code=2)["error"].startswith("size 60x60")
