"""The `cinefoundry` command: thin typer commands over the stages; `--json` on every command."""

from __future__ import annotations

import typer

from cinefoundry.cli import (
    audit_cmds,
    catalog_cmds,
    clips_cmds,
    dataset_cmds,
    demo_cmds,
    eval_cmds,
    generate_cmds,
    ingest_cmds,
    models_cmds,
    provenance_cmds,
    rights_cmds,
    storyboard_cmds,
    talent_cmds,
    train_cmds,
    workspace_cmds,
)

app = typer.Typer(
    name="cinefoundry",
    help="A studio's own video generation model: catalog, rights, consent, training, generation, provenance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("init")(workspace_cmds.init)
app.command("demo")(demo_cmds.demo)
app.command("ingest")(ingest_cmds.ingest)
app.command("train")(train_cmds.train)
app.command("eval")(eval_cmds.evaluate)
app.command("generate")(generate_cmds.generate)
app.add_typer(catalog_cmds.app, name="catalog")
app.add_typer(rights_cmds.app, name="rights")
app.add_typer(talent_cmds.app, name="talent")
app.add_typer(clips_cmds.app, name="clips")
app.add_typer(dataset_cmds.app, name="dataset")
app.add_typer(models_cmds.app, name="models")
app.add_typer(audit_cmds.app, name="audit")
app.add_typer(provenance_cmds.app, name="provenance")
app.add_typer(storyboard_cmds.app, name="storyboard")


def main() -> None:
    """Console-script entry point."""
    app()
