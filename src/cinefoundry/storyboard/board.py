"""The storyboard's data, shared by parsing, breakdown, generation and every export: plain dataclasses.

A `Screenplay` is what the Fountain file says; `ShotPlan`s are what the breakdown makes of each scene; a
`Board` is the state of a storyboard project: one `Panel` per shot with its current take (or why it has none).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SHOT_SIZES = ("wide", "medium", "close-up", "insert")


@dataclass
class DialogueLine:
    """One speech: who, what, and the parenthetical (wryly) if any."""

    character: str
    text: str
    parenthetical: str = ""
    extension: str = ""  # "V.O.", "O.S.", ... as written after the name; the speaker may be off screen
    dual: bool = False  # spoken at the same time as the neighbouring line (Fountain dual dialogue, ^)


@dataclass
class Scene:
    """A scene as the screenplay has it; `elements` keep the script's order of action and dialogue."""

    number: int  # 1-based, in script order
    heading: str  # e.g. "INT. SPACESHIP - NIGHT"
    int_ext: str  # "INT", "EXT", "INT/EXT" or "" when the heading does not say
    location: str
    time_of_day: str  # "DAY", "NIGHT", "DAWN", ... or ""
    action: list[str] = field(default_factory=list)  # action paragraphs in order
    dialogue: list[DialogueLine] = field(default_factory=list)
    elements: list[tuple[str, Any]] = field(default_factory=list)  # ("action", str) | ("dialogue", DialogueLine)
    characters: list[str] = field(default_factory=list)  # speaking or named in action, script order, no dupes
    transitions: list[str] = field(default_factory=list)
    synopses: list[str] = field(default_factory=list)
    section: str = ""  # the enclosing # section, if any


@dataclass
class Screenplay:
    """A parsed screenplay: title page fields, scenes, and what could not be parsed."""

    title: str
    credit: str = ""
    authors: list[str] = field(default_factory=list)
    title_page: dict[str, str] = field(default_factory=dict)
    scenes: list[Scene] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # lines or parts the parser could not place, with why


@dataclass
class ShotPlan:
    """One shot of a scene as the breakdown plans it."""

    scene: int
    number: int  # 1-based within the scene
    size: str  # one of SHOT_SIZES
    angle: str  # "eye level", "high", "low", "over the shoulder", "overhead"
    move: str  # "static", "pan", "tilt", "dolly in", "tracking", "handheld"
    kind: str  # "establishing", "action", "single", "over-the-shoulder", "two-shot", "insert"
    description: str
    characters: list[str] = field(default_factory=list)  # in frame
    dialogue: list[DialogueLine] = field(default_factory=list)
    duration_s: float = 2.0

    @property
    def code(self) -> str:
        """'3.2' for scene 3, shot 2: how a board and an edit name a shot."""
        return f"{self.scene}.{self.number}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Panel:
    """A shot on the board: its plan, its prompt, and its current take (files and record) or why none."""

    shot_id: str  # stable: the database id of the shot record, e.g. "sb1-s003-02"
    plan: ShotPlan
    heading: str  # the scene heading, for the panel caption
    prompt: str = ""
    status: str = "planned"  # planned | generated | approved | refused | failed
    reason: str = ""  # why refused or failed
    take: int | None = None  # the take shown (approved, else latest)
    image: Path | None = None  # keyframe PNG of the take
    clip: Path | None = None  # MP4 of the take
    record_id: str | None = None  # generation record of the take


@dataclass
class Board:
    """A storyboard project's current state, what every export renders."""

    project: str
    title: str
    credit: str
    model: str  # e.g. "demo@v3"
    dataset_version: str | None
    panels: list[Panel]
    fps: int = 16
    notes: list[str] = field(default_factory=list)  # what could not be parsed, refusals summary

    @property
    def duration_s(self) -> float:
        return sum(p.plan.duration_s for p in self.panels)
