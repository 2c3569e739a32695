"""What every storyboard export says about a board and its panels, and `write_exports` to write them all.

The PDF (`storyboard.pdf`), the HTML board (`storyboard.html`), the animatic (`storyboard.animatic`) and the
timeline (`storyboard.timeline`) all caption a panel the same way; the wording lives here so they agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cinefoundry.storyboard.board import Board, Panel

# Fonts that draw curly quotes, em dashes and accented names: DejaVu on Debian/Ubuntu, else the Bitstream Vera
# reportlab ships (fewer glyphs, but always there). Callers fall back to a built-in font when both are absent.
_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
)
_HAS_TAKE = ("generated", "approved")


def find_font(bold: bool = False) -> Path | None:
    """A TrueType font with wide Unicode coverage (DejaVu Sans, else reportlab's Vera), or None."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in _FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    try:
        import reportlab

        vera = Path(reportlab.__file__).parent / "fonts" / ("VeraBd.ttf" if bold else "Vera.ttf")
    except ImportError:  # the animatic draws with Pillow and must not need reportlab
        return None
    return vera if vera.is_file() else None


def format_duration(seconds: float) -> str:
    """'1:05.5' for 65.5 s, '4.0 s' under a minute: how the board states lengths."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def shows_take(panel: Panel) -> bool:
    """Whether the panel has a take to show; refused, failed and planned panels get a placeholder instead."""
    return panel.status in _HAS_TAKE and (panel.image is not None or panel.clip is not None)


def placeholder_text(panel: Panel) -> str:
    """'REFUSED: prompt names Celia, ...': what a placeholder says in place of the missing take."""
    label = panel.status.upper() if panel.status not in _HAS_TAKE else "NO TAKE"
    return f"{label}: {panel.reason}" if panel.reason else label


@dataclass
class Caption:
    """A panel's caption, in the words every export uses."""

    code: str  # "3.2"
    heading: str  # "INT. KITCHEN - NIGHT"
    description: str
    dialogue: list[str]  # "CELIA (wryly): Text"
    camera: str  # "WIDE · eye level · static"
    duration: str  # "2.0 s"
    take: str  # "take 3 · rec 8f2a…" or "no take"
    status: str


def caption(panel: Panel) -> Caption:
    """The caption of one panel: code, heading, description, dialogue, camera, duration and take."""
    plan = panel.plan
    dialogue = []
    for line in plan.dialogue:
        who = line.character.upper() + (f" ({line.parenthetical.strip('()')})" if line.parenthetical else "")
        dialogue.append(f"{who}: {line.text}")
    take_bits = [f"take {panel.take}" if panel.take is not None else "no take"]
    if panel.record_id:
        take_bits.append(f"rec {panel.record_id}")
    return Caption(
        code=plan.code,
        heading=panel.heading,
        description=plan.description,
        dialogue=dialogue,
        camera=" · ".join(x for x in (plan.size.upper(), plan.angle, plan.move) if x),
        duration=format_duration(plan.duration_s),
        take=" · ".join(take_bits),
        status=panel.status,
    )


def cover_facts(board: Board, date: dt.date | None = None) -> list[tuple[str, str]]:
    """The cover's (label, value) rows; the model and its dataset version always appear, as legal requires."""
    counts: dict[str, int] = {}
    for panel in board.panels:
        counts[panel.status] = counts.get(panel.status, 0) + 1
    return [
        ("Project", board.project),
        ("Model", board.model),
        ("Dataset version", board.dataset_version or "not recorded"),
        ("Date", (date or dt.date.today()).isoformat()),
        ("Shots", str(len(board.panels))),
        ("Total duration", format_duration(board.duration_s)),
        ("Status", ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no shots"),
    ]


def write_exports(board: Board, folder: Path, animatic: bool = True) -> dict[str, Path]:
    """Write the PDF, HTML board, animatic and timeline files of a board into `folder`; returns them by kind."""
    # Imported here because those modules import this one's captions and fonts.
    from cinefoundry.storyboard.animatic import write_animatic
    from cinefoundry.storyboard.html import write_html
    from cinefoundry.storyboard.pdf import write_pdf
    from cinefoundry.storyboard.timeline import write_timeline

    folder.mkdir(parents=True, exist_ok=True)
    out = {"pdf": write_pdf(board, folder / "storyboard.pdf"), "html": write_html(board, folder / "storyboard.html")}
    movie = write_animatic(board, folder / "animatic.mp4") if animatic else None
    if movie is not None:
        out["animatic"] = movie
    if board.panels:
        out.update(write_timeline(board, folder, animatic=movie))
    return out
