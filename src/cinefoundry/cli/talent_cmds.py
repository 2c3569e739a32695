"""`cinefoundry talent list|show|add|check` and `talent consent add|revoke|list`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from cinefoundry.catalog import terms
from cinefoundry.catalog.models import Consent, Performer
from cinefoundry.catalog.policy import allowed, today
from cinefoundry.catalog.queries import consent_view, find_performer, find_title, performer_view
from cinefoundry.catalog.talent import ConsentIn, add_consent, performer_for, revoke_consent
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
from cinefoundry.core.errors import CinefoundryError
from cinefoundry.core.store import sha256_file

app = typer.Typer(help="Performers, their aliases and characters, and their likeness consents.")
consent_app = typer.Typer(
    help="Consents a performer signed: digital replica, alteration, synthetic likeness, training."
)
app.add_typer(consent_app, name="consent")

PerformerArg = Annotated[str, typer.Argument(help="Performer name, alias or id.")]


@app.command("list")
@handles_errors
def list_cmd(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Every performer with aliases, titles, characters and consents in force."""
    with workspace(home) as ws, ws.session("talent.read") as s:
        people = [performer_view(p) for p in s.scalars(select(Performer).order_by(Performer.name))]
    if as_json:
        emit_json(people)
        return
    rows = [[p["name"], ", ".join(p["aliases"]), ", ".join(p["titles"]),
             ", ".join(sorted({f"{c['name']} ({c['performance']})" for c in p["characters"]})),
             ", ".join(f"{c['kind']} #{c['id']}" for c in p["consents"] if c["status"] == "active") or "none"]
            for p in people]  # fmt: skip
    out.print(table(f"{len(people)} performers", ["name", "aliases", "titles", "plays", "consents in force"], rows))


@app.command("show")
@handles_errors
def show_cmd(performer: PerformerArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """One performer: aliases, titles, characters and every consent with its status."""
    with workspace(home) as ws, ws.session("talent.read") as s:
        view = performer_view(find_performer(s, performer))
    if as_json:
        emit_json(view)
        return
    out.print(f"[bold]{view['name']}[/] ({view['id']}); aliases: {', '.join(view['aliases']) or 'none'}")
    out.print(f"titles: {', '.join(view['titles']) or 'none'}")
    _print_consents(view["consents"])


@app.command("add")
@handles_errors
def add_cmd(
    name: Annotated[str, typer.Argument(help="The performer's name as credited.")],
    alias: Annotated[list[str], typer.Option("--alias", help="Other names: stage names, spellings (repeatable).")] = [],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a performer, or add aliases to one already in the catalog."""
    with workspace(home) as ws, ws.session("talent.add") as s:
        performer, created = performer_for(s, name, alias)
        view = performer_view(performer) | {"created": created}
    if as_json:
        emit_json(view)
    else:
        out.print(
            f"{'added' if created else 'updated'} {view['name']}; aliases: {', '.join(view['aliases']) or 'none'}"
        )


@app.command("check")
@handles_errors
def check_cmd(
    performer: PerformerArg,
    kind: Annotated[str, typer.Option(help="digital_replica, digital_alteration, synthetic_likeness or training_use.")],
    title: Annotated[str | None, typer.Option(help="The title the use is for.")] = None,
    use: Annotated[str | None, typer.Option(help="train, generate or reference.")] = None,
    territory: Annotated[str | None, typer.Option(help="ISO 3166 code or WW (default: the workspace's).")] = None,
    on: Annotated[str | None, typer.Option(help="Date to check, YYYY-MM-DD (default today).")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the rights gate about a performer's likeness; exit 0 when consented, 1 when not."""
    with workspace(home) as ws, ws.session("talent.read") as s:
        p = find_performer(s, performer)
        title_id = find_title(s, title).id if title else None
        decision = allowed(
            p,
            terms.consent_kind(kind),
            territory=territory or ws.settings.territory,
            on=terms.date(on) or today(),
            title=title_id,
            purpose=terms.use(use) if use else None,
        )
    report_decision(decision, {"performer": p.id, "kind": kind}, as_json, "CONSENTED", "NO CONSENT")


@consent_app.command("add")
@handles_errors
def consent_add_cmd(
    performer: PerformerArg,
    kind: Annotated[str, typer.Option(help="digital_replica, digital_alteration, synthetic_likeness or training_use.")],
    description: Annotated[str, typer.Option(help="The intended use, described specifically, as signed.")],
    representation: Annotated[str, typer.Option(help="Who advised the performer: counsel, union or none.")],
    document: Annotated[Path | None, typer.Option(help="The signed consent document; its sha256 is recorded.")] = None,
    document_sha256: Annotated[str | None, typer.Option(help="sha256 of the signed document, if not at hand.")] = None,
    title: Annotated[list[str], typer.Option("--title", help="Titles in scope (repeatable; none = any).")] = [],
    use: Annotated[list[str], typer.Option("--use", help="Uses in scope: train, generate, reference.")] = [],
    territory: Annotated[list[str], typer.Option("--territory", help="Territories (ISO 3166 or WW).")] = ["WW"],
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--until", help="Last day, YYYY-MM-DD.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a consent a performer signed, with its scope and the hash of the signed document."""
    if (document is None) == (document_sha256 is None):
        raise CinefoundryError("give the signed document with --document FILE, or its hash with --document-sha256")
    doc_hash = sha256_file(document)[0] if document else document_sha256
    with workspace(home) as ws, ws.session("talent.consent.add") as s:
        p = find_performer(s, performer)
        spec = ConsentIn(
            kind=kind,
            titles=[find_title(s, t).id for t in title],
            uses=use,
            territories=territory,
            window_start=terms.date(start),
            window_end=terms.date(end),
            description=description,
            representation=representation,
            document_sha256=doc_hash,
        )
        view = consent_view(add_consent(s, p, spec, ws.actor))
    if as_json:
        emit_json(view)
    else:
        out.print(f"[bold green]consent #{view['id']}[/]: {view['performer']} - {view['kind']}")


@consent_app.command("revoke")
@handles_errors
def consent_revoke_cmd(
    consent_id: Annotated[int, typer.Argument(help="Consent number, from `talent consent list`.")],
    reason: Annotated[str, typer.Option(help="Why it is withdrawn.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a consent from now on; it stays on record."""
    with workspace(home) as ws, ws.session("talent.consent.revoke") as s:
        view = consent_view(revoke_consent(s, consent_id, reason, ws.actor))
    if as_json:
        emit_json(view)
    else:
        out.print(f"[bold yellow]revoked consent #{consent_id}[/] of {view['performer']}: {reason}")


@consent_app.command("list")
@handles_errors
def consent_list_cmd(
    performer: Annotated[str | None, typer.Argument(help="Only this performer.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every consent with its scope and status."""
    with workspace(home) as ws, ws.session("talent.read") as s:
        query = select(Consent).order_by(Consent.id)
        if performer:
            query = query.where(Consent.performer_id == find_performer(s, performer).id)
        consents = [consent_view(c) for c in s.scalars(query)]
    if as_json:
        emit_json(consents)
    else:
        _print_consents(consents)


def _print_consents(consents: list[dict]) -> None:
    rows = [[c["id"], c["performer"], c["kind"], c["status"], ",".join(c["titles"]) or "any",
             ",".join(c["uses"]) or "any", ",".join(c["territories"]), c["window_start"] or "...",
             c["window_end"] or "open", c["representation"], c["description"]] for c in consents]  # fmt: skip
    cols = ["#", "performer", "kind", "status", "titles", "uses", "territories", "from", "until", "represented", "use"]
    out.print(table(f"{len(consents)} consents", cols, rows))
