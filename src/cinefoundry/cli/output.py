"""Shared CLI plumbing: `--json`/`--home` options, error handling, rich output and progress bars."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cinefoundry.catalog.policy import Decision
from cinefoundry.catalog.specs import describe_validation
from cinefoundry.core.errors import CinefoundryError, InputError
from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.workspace import Workspace

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CINEFOUNDRY_HOME", help="Workspace folder (default ./studio).", show_default=False),
]


def parse_interval(text: str | None, option: str = "--guidance-interval") -> tuple[float, float] | None:
    """'LO,HI' as two floats with 0 <= LO < HI <= 1 (noise levels), or None when not given."""
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(option, f"{text!r}: give two noise levels as LO,HI, e.g. 0.1,0.9") from None
    if not 0.0 <= lo < hi <= 1.0:
        raise InputError(option, f"{text!r}: need 0 <= LO < HI <= 1")
    return lo, hi


out = Console(soft_wrap=True)
err = Console(stderr=True)


def emit_json(data: Any) -> None:
    """Print `data` as the command's single JSON document."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def handles_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a CinefoundryError into a message (or a JSON error document) and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CinefoundryError as exc:
            _report(str(exc), kwargs.get("as_json", False))
            raise typer.Exit(1) from None
        except ValidationError as exc:  # a value typed on the command line
            _report(describe_validation(exc), kwargs.get("as_json", False))
            raise typer.Exit(2) from None
        except ValueError as exc:
            _report(str(exc), kwargs.get("as_json", False))
            raise typer.Exit(2) from None

    return wrapper


def _report(message: str, as_json: bool) -> None:
    if as_json:
        emit_json({"ok": False, "error": message})
    else:
        err.print(f"[bold red]error:[/] {message}", highlight=False)


@contextmanager
def workspace(home: Path | None) -> Iterator[Workspace]:
    """Open the workspace for one command and tell the user when it had to be migrated."""
    ws = Workspace.open(home)
    try:
        if ws.migrated_from:
            err.print(f"[yellow]migrated the workspace schema from {ws.migrated_from} to {ws.revision}[/]")
        yield ws
    finally:
        ws.close()


def report_decision(decision: Decision, document: dict[str, Any], as_json: bool, yes: str, no: str) -> None:
    """Print a rights-gate decision (or its JSON document); exit 1 when it denies."""
    if as_json:
        emit_json(decision.as_dict() | document)
    else:
        mark = f"[bold green]{yes}[/]" if decision.ok else f"[bold red]{no}[/]"
        out.print(f"{mark} {decision.reason}", highlight=False)
    if not decision.ok:
        raise typer.Exit(1)


def table(title: str | None, columns: list[str], rows: list[list[Any]], markup: bool = False) -> Table:
    """A rich table; with `markup`, cells that are our own styled strings are rendered as rich markup."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        # cells are data (titles, captions, JSON): shown literally, never read as rich markup like "[true]"
        cells = (Text.from_markup(str(v)) if markup else Text(str(v)) for v in ("" if v is None else v for v in r))
        t.add_row(*cells)
    return t


class RichReporter:
    """Progress bars on stderr (stdout stays clean for pipes)."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: Any = None

    def begin(self, label: str, total: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=err,
        )
        self._progress.start()
        self._task = self._progress.add_task(label, total=total, detail="")

    def step(self, detail: str = "") -> None:
        if self._progress is not None:
            short = detail if len(detail) <= 32 else detail[:31] + "…"
            self._progress.update(self._task, advance=1, detail=short)

    def end(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def reporter(as_json: bool) -> Reporter:
    return SILENT if as_json else RichReporter()
