"""`cinefoundry rights grant|revoke|list|check`."""

from __future__ import annotations

from typing import Annotated

import typer

from cinefoundry.catalog import terms
from cinefoundry.catalog.policy import allowed, today
from cinefoundry.catalog.queries import find_title, grant_view
from cinefoundry.catalog.rights import add_grant, list_grants, revoke_grant
from cinefoundry.catalog.specs import GrantIn
from cinefoundry.cli.output import (
    HomeOpt,
    JsonOpt,
    emit_json,
    handles_errors,
    out,
    report_decision,
    table,
    workspace,
)

app = typer.Typer(help="Rights grants per title, and the rights gate every stage asks.")

TitleArg = Annotated[str, typer.Argument(help="Title id, EIDR id or exact name.")]


@app.command("grant")
@handles_errors
def grant_cmd(
    title: TitleArg,
    use: Annotated[list[str], typer.Option("--use", help="train, generate or reference (repeatable).")],
    licence: Annotated[str, typer.Option(help="SPDX id (CC-BY-4.0) or contract reference (ACME-2026-014 s.3).")],
    territory: Annotated[list[str], typer.Option("--territory", help="ISO 3166 code or WW (repeatable).")] = ["WW"],
    exclude: Annotated[list[str], typer.Option("--exclude", help="Territory carved out of a WW grant.")] = [],
    start: Annotated[str | None, typer.Option("--from", help="First day of the window, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--until", help="Last day of the window, YYYY-MM-DD.")] = None,
    licence_url: Annotated[str | None, typer.Option(help="Where the licence text lives.")] = None,
    restrictions: Annotated[
        str | None, typer.Option(help="Restrictions in words; a grant with restrictions needs legal review to be used.")
    ] = None,
    attribution: Annotated[
        bool | None, typer.Option("--attribution/--no-attribution", help="Outputs must carry attribution.")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a grant of uses on a title, for territories and a window."""
    spec = GrantIn(
        licence=licence,
        uses=use,
        territories=territory,
        excluded_territories=exclude,
        window_start=terms.date(start),
        window_end=terms.date(end),
        licence_url=licence_url,
        restrictions=restrictions,
        attribution_required=attribution,
    )
    with workspace(home) as ws, ws.session("rights.grant") as s:
        view = grant_view(add_grant(s, find_title(s, title), spec, ws.actor))
    if as_json:
        emit_json(view)
    else:
        out.print(f"[bold green]grant #{view['id']}[/] on {view['title_id']}: {'+'.join(view['uses'])} "
                  f"in {', '.join(view['territories'])} under {view['licence']}")  # fmt: skip


@app.command("revoke")
@handles_errors
def revoke_cmd(
    grant_id: Annotated[int, typer.Argument(help="Grant number, from `rights list`.")],
    reason: Annotated[str, typer.Option(help="Why: licence ended, takedown notice, ...")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a grant from now on; it stays on record, and checks of earlier dates still see it."""
    with workspace(home) as ws, ws.session("rights.revoke") as s:
        view = grant_view(revoke_grant(s, grant_id, reason, ws.actor))
    if as_json:
        emit_json(view)
    else:
        out.print(f"[bold yellow]revoked grant #{grant_id}[/] on {view['title_id']}: {reason}")


@app.command("list")
@handles_errors
def list_cmd(
    title: Annotated[str | None, typer.Argument(help="Only this title.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every grant, with its status today (active, revoked, expired, pending)."""
    with workspace(home) as ws, ws.session("rights.read") as s:
        grants = [grant_view(g) for g in list_grants(s, find_title(s, title) if title else None)]
    if as_json:
        emit_json(grants)
        return
    rows = [[g["id"], g["title_id"], g["status"], g["licence"], "+".join(g["uses"]), ",".join(g["territories"]),
             ",".join(g["excluded_territories"]) or None, g["window_start"] or "...", g["window_end"] or "open",
             g["restrictions"], g["revoke_reason"]] for g in grants]  # fmt: skip
    cols = [
        "#",
        "title",
        "status",
        "licence",
        "uses",
        "territories",
        "excl.",
        "from",
        "until",
        "restrictions",
        "revoked",
    ]
    out.print(table(f"{len(grants)} grants", cols, rows))


@app.command("check")
@handles_errors
def check_cmd(
    title: TitleArg,
    use: Annotated[str, typer.Option(help="train, generate or reference.")],
    territory: Annotated[str | None, typer.Option(help="ISO 3166 code or WW (default: the workspace's).")] = None,
    on: Annotated[str | None, typer.Option(help="Date to check, YYYY-MM-DD (default today).")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the rights gate; exit 0 when allowed, 1 when denied, with the reason either way."""
    with workspace(home) as ws, ws.session("rights.read") as s:
        t = find_title(s, title)
        where = territory or ws.settings.territory
        decision = allowed(t, terms.use(use), territory=where, on=terms.date(on) or today())
    document = {"title": t.id, "use": use, "territory": terms.territory(where)}
    report_decision(decision, document, as_json, "ALLOWED", "DENIED")
