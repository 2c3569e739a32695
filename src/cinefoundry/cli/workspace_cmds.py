"""`cinefoundry init`."""

from __future__ import annotations

from typing import Annotated

import typer

from cinefoundry.catalog import terms
from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, table
from cinefoundry.workspace import Workspace


@handles_errors
def init(
    home: HomeOpt = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the metadata database (default: SQLite file in the workspace)."),
    ] = None,
    territory: Annotated[str | None, typer.Option(help="Default territory of rights checks (ISO 3166 or WW).")] = None,
    tenant: Annotated[str | None, typer.Option(help="The studio tenant that owns this workspace's models.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace: metadata database, content-addressed object store, settings file.

    On an existing workspace, migrate its database to this version and keep everything in it.
    """
    if territory:
        territory = terms.territory(territory)
    ws = Workspace.init(home, database_url=database_url, territory=territory, tenant=tenant)
    info = ws.describe()
    ws.close()
    if as_json:
        emit_json(info)
        return
    verb = "created" if info["created"] else "opened"
    out.print(f"[bold green]{verb}[/] workspace {info['home']}")
    out.print(table(None, ["", ""], [[k, v] for k, v in info.items() if k not in ("created", "notes")]))
    for note in info["notes"]:
        out.print(f"note: {note}")
