"""`cinefoundry audit verify|log`."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, table, workspace
from cinefoundry.core.audit import AuditEntry, verify

app = typer.Typer(help="The append-only, hash-chained log of every catalog, rights and consent change.")


@app.command("verify")
@handles_errors
def verify_cmd(
    expect_head: Annotated[
        str | None, typer.Option(help="Head hash recorded earlier outside the database; checks nothing was cut off.")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the hash chain; exit 1 if any entry was altered, removed or reordered."""
    with workspace(home) as ws, ws.session("audit.verify") as s:
        report = verify(s, expect_head)
    if as_json:
        emit_json(report.as_dict())
    elif report.ok:
        out.print(f"[bold green]audit log intact[/]: {report.entries} entries, head {report.head}")
    else:
        out.print(f"[bold red]audit log TAMPERED[/]: {len(report.problems)} problem(s) in {report.entries} entries")
        out.print(table(None, ["entry", "problem"], [[p["seq"], p["problem"]] for p in report.problems]))
    if not report.ok:
        raise typer.Exit(1)


@app.command("log")
@handles_errors
def log_cmd(
    limit: Annotated[int, typer.Option(help="Show the newest N entries.")] = 30,
    entity: Annotated[str | None, typer.Option(help="Only this table, e.g. rights_grants.")] = None,
    entity_id: Annotated[str | None, typer.Option(help="Only this row id.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show recent changes: who, when, what, before and after."""
    with workspace(home) as ws, ws.session("audit.read") as s:
        query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
        if entity:
            query = query.where(AuditEntry.entity == entity)
        if entity_id:
            query = query.where(AuditEntry.entity_id == entity_id)
        entries = [e.as_dict() for e in s.scalars(query)]
    if as_json:
        emit_json(entries)
        return
    rows = [[e["seq"], e["at"][:19], e["actor"], e["action"], e["op"], f"{e['entity']}:{e['entity_id']}",
             _changed(e)] for e in reversed(entries)]  # fmt: skip
    out.print(table("audit log", ["#", "at (UTC)", "who", "action", "op", "row", "changed"], rows))


def _changed(entry: dict) -> str:
    before, after = entry["before"] or {}, entry["after"] or {}
    if entry["op"] == "update":
        return ", ".join(f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in after if before.get(k) != after.get(k))
    return ", ".join(f"{k}={v!r}" for k, v in (after or before).items() if k in ("name", "licence", "kind", "uri"))
