"""Errors a user can act on: the CLI prints their message, without a traceback."""

from __future__ import annotations


class CinefoundryError(Exception):
    """Base of every error whose message is meant for the user."""


class WorkspaceError(CinefoundryError):
    """The workspace is missing, unreadable, or made by a newer version."""


class NotFoundError(CinefoundryError):
    """A title, performer, grant or consent named by the user does not exist."""


class InputError(CinefoundryError):
    """A file or value given by the user is malformed; the message names the file and the problem."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class MediaError(InputError):
    """A media file is missing, unreadable or not a usable video."""


class RefusedError(CinefoundryError):
    """A request the rights rules refuse (no grant, no consent, another tenant's model); `reasons` say why."""

    def __init__(self, what: str, reasons: list[str]):
        super().__init__(f"{what} refused: " + "; ".join(reasons))
        self.reasons = reasons
