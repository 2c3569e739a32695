"""The audit log records every change with before/after, is append-only, and `verify` detects tampering."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from cinefoundry.catalog.models import Grant, Title
from cinefoundry.core.audit import AuditEntry, verify
from cinefoundry.workspace import Workspace


def _entries(ws: Workspace) -> list[AuditEntry]:
    with ws.session("read") as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _add_title(ws: Workspace, title_id: str = "film") -> None:
    with ws.session("catalog.test") as s:
        s.add(Title(id=title_id, name="A Film", kind="feature", extra={}))


def test_changes_are_logged_with_who_what_before_and_after(ws: Workspace) -> None:
    _add_title(ws)
    with ws.session("catalog.rename") as s:
        s.get(Title, "film").name = "The Film"
    with ws.session("catalog.delete") as s:
        s.delete(s.get(Title, "film"))
    insert, update, delete = _entries(ws)
    assert (insert.op, insert.action, insert.actor, insert.entity, insert.entity_id) == (
        "insert", "catalog.test", "tester", "titles", "film")  # fmt: skip
    assert insert.before is None and json.loads(insert.after)["name"] == "A Film"
    assert json.loads(update.before)["name"] == "A Film" and json.loads(update.after)["name"] == "The Film"
    assert delete.op == "delete" and delete.after is None
    with ws.session("v") as s:
        report = verify(s)
    assert report.ok and report.entries == 3 and report.head == delete.hash


def test_a_flush_without_real_changes_logs_nothing(ws: Workspace) -> None:
    _add_title(ws)
    with ws.session("noop") as s:
        t = s.get(Title, "film")
        t.name = "A Film"  # same value
    assert len(_entries(ws)) == 1


def test_the_database_refuses_edits_to_the_log(ws: Workspace) -> None:
    _add_title(ws)
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), ws.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(_entries(ws)) == 1


def test_verify_fails_after_a_row_is_altered_directly_in_sqlite(tmp_path) -> None:
    ws = Workspace.init(tmp_path / "studio")
    _add_title(ws, "a")
    _add_title(ws, "b")
    ws.close()
    db = sqlite3.connect(tmp_path / "studio" / "catalog.db")
    db.execute("DROP TRIGGER audit_log_no_update")  # someone with file access gets past the trigger
    db.execute("""UPDATE audit_log SET after = replace(after, 'A Film', 'Stolen Film') WHERE seq = 1""")
    db.commit()
    db.close()
    ws = Workspace.open(tmp_path / "studio")
    with ws.session("v") as s:
        report = verify(s)
    ws.close()
    assert not report.ok
    assert report.problems == [{"seq": 1, "problem": "content was altered: hash does not match"}]


def test_verify_finds_removed_and_cut_off_entries(ws: Workspace) -> None:
    for name in "abcd":
        _add_title(ws, name)
    with ws.session("v") as s:
        head = verify(s).head
    with ws.engine.begin() as conn:
        if ws.engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        conn.execute(text("DELETE FROM audit_log WHERE seq IN (2, 4)"))
    with ws.session("v") as s:
        report = verify(s, expect_head=head)
    problems = [p["problem"] for p in report.problems]
    assert "entries 2..2 are missing" in problems
    assert "does not link to the previous entry's hash" in problems
    assert any(p.startswith("head is") for p in problems), "cutting off the newest entry is caught by the head"


def test_concurrent_writers_keep_one_chain(ws: Workspace) -> None:
    _add_title(ws)
    errors: list[Exception] = []

    def grant(i: int) -> None:
        try:
            with ws.session("rights.grant") as s:
                s.add(Grant(title_id="film", uses=["train"], territories=["WW"], excluded_territories=[],
                            licence=f"L-{i}", source="test", created_by="tester"))  # fmt: skip
        except Exception as exc:  # SQLite may answer "database is locked"; that is not a fork
            errors.append(exc)

    threads = [threading.Thread(target=grant, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with ws.session("v") as s:
        report = verify(s)
        grants = s.scalars(select(Grant)).all()
    assert report.ok, report.problems
    assert report.entries == 1 + len(grants)
    assert len(grants) + len(errors) == 8
