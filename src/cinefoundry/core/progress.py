"""A minimal progress interface, so stages report progress without depending on a UI library."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Receives progress of long work: `begin` a phase of `total` steps, `step` through it, `end` it."""

    def begin(self, label: str, total: int) -> None: ...

    def step(self, detail: str = "") -> None: ...

    def end(self) -> None: ...


class SilentReporter:
    """A Reporter that shows nothing (library use, tests, --json)."""

    def begin(self, label: str, total: int) -> None:
        pass

    def step(self, detail: str = "") -> None:
        pass

    def end(self) -> None:
        pass


SILENT = SilentReporter()
