"""`cinefoundry models list|show`: registered models, their lineage, metrics and status."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, table, workspace
from cinefoundry.registry.registry import find_model, lineage, list_models

app = typer.Typer(help="Registered models: lineage (dataset, grants, parent, code), licence, metrics, status.")


@app.command("list")
@handles_errors
def list_cmd(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's models.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every registered model (newest version of each name last)."""
    with workspace(home) as ws, ws.session("models.read") as s:
        models = [m.as_dict() for m in list_models(s, tenant)]
    if as_json:
        emit_json(models)
        return
    rows = [[m["label"], m["recipe"], m["dataset"], m["parent"], m["tenant"], m["status"], m["created_at"][:19]]
            for m in models]  # fmt: skip
    cols = ["model", "recipe", "dataset", "parent", "tenant", "status", "created"]
    out.print(table(f"{len(models)} models", cols, rows))


@app.command("show")
@handles_errors
def show_cmd(
    model: Annotated[str, typer.Argument(help="Model name (newest version), NAME@vN, or id.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One model: recipe, config, licence, status, metrics, and its lineage down to every title grant."""
    with workspace(home) as ws, ws.session("models.read") as s:
        found = find_model(s, model)
        doc = found.as_dict() | {"lineage": lineage(s, found)}
    if as_json:
        emit_json(doc)
        return
    status = f"[bold red]{doc['status']}[/]" if doc["status"] != "trained" else doc["status"]
    out.print(f"[bold]{doc['label']}[/] ({doc['recipe']}) for {doc['tenant']}, {status}; "
              f"created {doc['created_at'][:19]} by {doc['created_by']}")  # fmt: skip
    if doc["status_note"]:
        out.print(f"  {doc['status_note']}")
    lin = doc["lineage"]
    facts = [
        ["dataset", f"{lin['dataset']} (hash {lin['dataset_content_hash'][:16]})" if lin["dataset"] else None],
        ["parents", " <- ".join(lin["parents"]) or None],
        ["base weights", lin["base_weights"]],
        ["LoRA rank", lin["lora_rank"]],
        ["code", lin["code_version"]],
        ["checkpoint", doc["path"]],
        ["licence", doc["licence"]],
        ["config", json.dumps(doc["config"], sort_keys=True)],
    ]
    out.print(table(None, ["field", "value"], [f for f in facts if f[1] is not None]))
    rows = [[t["title"], t["title_id"], f"#{t['grant_id']}", t["licence"], t["grant_status"]]
            for t in lin["titles"]]  # fmt: skip
    out.print(table("titles and grants relied on", ["title", "id", "grant", "licence", "grant today"], rows))
    if doc["metrics"]:
        flat = [[f"{k}.{kk}", vv] for k, v in sorted(doc["metrics"].items()) if isinstance(v, dict)
                for kk, vv in v.items()]  # fmt: skip
        flat += [[k, v] for k, v in sorted(doc["metrics"].items()) if not isinstance(v, dict)]
        out.print(table("metrics", ["metric", "value"], flat))
