"""`cinefoundry demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cinefoundry.cli.output import JsonOpt, emit_json, handles_errors, out, reporter
from cinefoundry.demo import find_samples, run_demo


@handles_errors
def demo(
    home: Annotated[Path, typer.Option(help="Where the demo workspace goes (recreated on every run).")] = Path(
        "demo-studio"
    ),
    samples: Annotated[
        Path | None, typer.Option(envvar="CINEFOUNDRY_SAMPLES", help="Sample library (default ../shared/samples).")
    ] = None,
    recipe: Annotated[str, typer.Option(help="Model recipe to train: demo (~9 min on 2 cores) or tiny (seconds).")] = (
        "demo"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Run every stage on the sample library into a fresh workspace and say what each did."""
    library = find_samples(samples)
    echo = (lambda _line: None) if as_json else (lambda line: out.print(line, highlight=False))
    result = run_demo(home.resolve(), library, echo, reporter(as_json), recipe)
    if as_json:
        emit_json(result)
    else:
        out.print("[bold green]demo ok[/]" if result["ok"] else "[bold red]demo finished with problems[/]")
    if not result["ok"]:
        raise typer.Exit(1)
