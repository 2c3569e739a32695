"""Fountain screenplays into `Screenplay`s: screenplain reads the syntax, this module makes scenes of it.

Scene headings split into INT/EXT, location and time of day; dialogue loses its cue extensions (V.O.,
CONT'D) into `DialogueLine.extension`; what cannot be placed in a scene is kept in `Screenplay.problems`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from screenplain.parsers.fountain import parse_lines
from screenplain.richstring import parse_emphasis
from screenplain.types import Action, Dialog, DualDialog, PageBreak, Section, Slug, Transition

from cinefoundry.core.errors import InputError
from cinefoundry.storyboard.board import DialogueLine, Scene, Screenplay

HEADING_RE = re.compile(r"^(?P<ie>INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I/E|INT|EXT|EST)\b\.?\s*(?P<rest>.*)$")
TIME_SEP_RE = re.compile(r"\s+-+\s+|\s*--+\s*")  # "KITCHEN - NIGHT" and the "FOOTHILLS--DAY" the samples use
TIME_WORDS = {"DAY", "NIGHT", "DAWN", "DUSK", "MORNING", "AFTERNOON", "EVENING", "NOON", "MIDNIGHT", "SUNRISE",
              "SUNSET", "TWILIGHT", "CONTINUOUS", "LATER", "SAME", "HOUR", "NIGHTFALL", "DAYBREAK"}  # fmt: skip
NOTE_RE = re.compile(r"\[\[.*?\]\]", re.DOTALL)
BONEYARD_RE = re.compile(r"/\*.*?\*/", re.DOTALL)
LINEBREAK_RE = re.compile(r"\r\n|\n|\r")
QUOTED_RE = re.compile(r'"[^"]*"|\u201c[^\u201d]*\u201d')
TRANSITION_RE = re.compile(r"^(?:FADE|CUT|DISSOLVE|SMASH|MATCH|WIPE|IRIS|JUMP)\b[A-Z .']*[:.]$")
RANGE_PART_RE = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")
OFF_SCREEN = {"V.O.", "O.S.", "O.C.", "OFF", "VO", "OS"}


def parse_fountain(path: Path) -> Screenplay:
    """Parse a .fountain file; InputError when it is missing, not UTF-8 text, empty, or has no scene headings."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such file" if not path.exists() else "not a file")
    data = path.read_bytes()
    if b"\x00" in data:
        raise InputError(str(path), "a binary file, not a Fountain screenplay (it contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"not UTF-8 text (undecodable byte at offset {exc.start})") from exc
    return parse_fountain_text(text, source=str(path))


def parse_fountain_text(text: str, source: str = "<text>") -> Screenplay:
    """Parse Fountain source already read; `source` names it in errors."""
    if not text.strip():
        raise InputError(source, "the file is empty")
    problems = _unclosed_markup(text)
    # screenplain drops notes one paragraph at a time; a note spanning a blank line must go first
    text = NOTE_RE.sub("", BONEYARD_RE.sub("", text))
    if not text.strip():
        raise InputError(source, "nothing outside boneyard /* */ and notes [[ ]]: no screenplay text")
    parsed = parse_lines(LINEBREAK_RE.split(text))
    paragraphs = _repair(parsed.paragraphs, problems)
    if not any(isinstance(p, Slug) for p in paragraphs):
        raise InputError(source, "no scene headings (INT./EXT.) were found; is this a Fountain screenplay?")
    page = {k: "\n".join(_plain(v) for v in vs) for k, vs in parsed.title_page.items()}
    authors = [a.strip() for k in ("Author", "Authors") for line in parsed.title_page.get(k, [])
               for a in re.split(r"\s+(?:&|and)\s+|,\s*", _plain(line)) if a.strip()]  # fmt: skip
    title = " - ".join(_plain(t).strip().strip('"').strip() for t in parsed.title_page.get("Title", []))
    play = Screenplay(title=title, credit=page.get("Credit", ""), authors=authors, title_page=page, problems=problems)
    play.scenes = _scenes(paragraphs, problems)
    return play


def split_heading(heading: str) -> tuple[str, str, str]:
    """'INT. KITCHEN - NIGHT' -> ('INT', 'KITCHEN', 'NIGHT'); a tail that is no time of day stays in the location."""
    heading = heading.strip().upper()
    m = HEADING_RE.match(heading)
    int_ext, rest = ("", heading) if m is None else (m["ie"], m["rest"])
    int_ext = {"EST": "EXT", "I/E": "INT/EXT"}.get(int_ext, int_ext)
    if "/" in int_ext:
        int_ext = "INT/EXT"
    seps = list(TIME_SEP_RE.finditer(rest))
    if seps:
        tail = rest[seps[-1].end() :].strip()
        if set(re.findall(r"[A-Z]+", tail)) & TIME_WORDS:
            return int_ext, rest[: seps[-1].start()].strip(" .-"), tail
    return int_ext, rest.strip(" .-"), ""


def speaker(cue: str) -> tuple[str, str]:
    """A character cue -> (name, extension): "ROSA (V.O.) ^" -> ("ROSA", "V.O."); CONT'D is dropped."""
    cue = cue.strip().rstrip("^").strip().lstrip("@")
    exts = [e.strip() for e in re.findall(r"\(([^)]*)\)", cue) if e.strip().upper() not in {"CONT'D", "CONT\u2019D"}]
    return re.sub(r"\s+", " ", cue.split("(", 1)[0]).strip(), ", ".join(exts)


def named_characters(text: str, speakers: list[str]) -> list[str]:
    """Speakers of the script named in `text`: in CAPS, Capitalised, or 'the dog' for DOG; text order, no dupes."""
    found: list[str] = []
    text = QUOTED_RE.sub(" ", text)  # "GURU 12 MI." on a sign names no one in the shot
    for m in _name_pattern(tuple(speakers)).finditer(text) if speakers else ():
        name = m.group(0).upper()
        name = name if name in speakers else re.sub(r"^THE\s+", "", name)
        if name not in found:
            found.append(name)
    return found


@lru_cache(maxsize=32)
def _name_pattern(speakers: tuple[str, ...]) -> re.Pattern[str]:
    # lower case only after "the": "the guru" is the GURU, but "a dog" is any dog
    variants = []
    for name in sorted(speakers, key=len, reverse=True):  # "CYBER BOB" before "BOB"
        variants += [re.escape(name), re.escape(name.title()), r"[Tt]he\s+" + re.escape(name.lower())]
    return re.compile(r"(?<![\w'])(?:" + "|".join(variants) + r")(?!\w)")


def display_name(text: str) -> str:
    """'PEAK OF MOUNT GURU' -> 'Peak of Mount Guru', "BOB'S KITCHEN" -> "Bob's Kitchen": as captions write names."""
    words = re.sub(r"(?<=\w)'S\b", "'s", text.strip().title()).split()
    small = {"Of", "The", "A", "An", "And", "In", "On", "At", "To", "By", "For"}
    return " ".join(w.lower() if i and w in small else w for i, w in enumerate(words))


def is_off_screen(line: DialogueLine) -> bool:
    """A voice-over or off-screen line: the speaker is heard, not seen."""
    return any(e.strip().upper() in OFF_SCREEN for e in line.extension.split(","))


def parse_scene_range(text: str, count: int) -> list[int]:
    """'1-3', '2', '1,4-5' or 'all' -> sorted scene numbers; ValueError naming the range and the scene count."""
    have = f"the script has {count} scene{'s' if count != 1 else ''}" + (f" (1-{count})" if count else "")
    chosen: set[int] = set()
    parts = [p.strip() for p in text.split(",")]
    if text.strip().lower() == "all":
        return list(range(1, count + 1))
    for part in parts:
        m = RANGE_PART_RE.match(part)
        if m is None:
            raise ValueError(f"scene range {text!r}: {part!r} is not a scene number or a range like 2-4; {have}")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if lo > hi:
            raise ValueError(f"scene range {text!r}: {part!r} runs backwards; {have}")
        chosen.update(range(lo, hi + 1))
    unknown = sorted(n for n in chosen if not 1 <= n <= count)
    if unknown:
        raise ValueError(f"scene range {text!r} names unknown scene(s) {', '.join(map(str, unknown))}; {have}")
    return sorted(chosen)


def _plain(text: object) -> str:
    """Plain text without Fountain emphasis; re-parsed whole because *emphasis* may span the lines."""
    return str(parse_emphasis(str(text)))


def _unclosed_markup(text: str) -> list[str]:
    """An unclosed /* or [[ would leak into the action: say so rather than guess where it ends."""
    problems = []
    for opener, closer, what in (("/*", "*/", "boneyard /*"), ("[[", "]]", "note [[")):
        rest = re.sub(re.escape(opener) + r".*?" + re.escape(closer), "", text, flags=re.DOTALL)
        if opener in rest:
            line = text[: len(text) - len(rest) + rest.index(opener)].count("\n") + 1
            problems.append(f"line {line}: unclosed {what} (no closing {closer}); its text is read as script")
    return problems


def _repair(paragraphs: list, problems: list[str]) -> list:
    """Fix what screenplain reads too eagerly: a CAPS intro 'CYBER BOSS, 40, ...' is action, not a cue."""
    out = []
    for p in paragraphs:
        if isinstance(p, Dialog) and "," in str(p.character).split("(", 1)[0]:
            # a character cue never holds a comma; a character introduced in action often does
            problems.append(f"'{str(p.character).strip()}' read as action, not a character cue (it has a comma)")
            p = Action([p.character, *(line for _, line in p.blocks)])
        text = _plain(" ".join(map(str, p.lines))).strip() if isinstance(p, Action) else None
        if text == "":
            continue  # what a note or boneyard left behind
        if text and len(p.lines) == 1 and TRANSITION_RE.match(text):
            p = Transition(p.lines[0])  # screenplain wants '>' or 'TO:'; "FADE OUT:" is a transition too
        out.append(p)
    return out


def _dialogue(dialog: Dialog, dual: bool = False) -> list[DialogueLine]:
    """One cue's speech; a parenthetical inside the speech starts a new line so it stays with its words."""
    name, ext = speaker(str(dialog.character))
    lines: list[DialogueLine] = []
    words: list[str] = []
    paren: list[str] = []
    for is_paren, raw in dialog.blocks:
        text = str(raw).strip()
        if not text:
            continue
        if is_paren and words:
            lines.append(DialogueLine(name, _plain(" ".join(words)), " ".join(paren).strip("() "), ext, dual))
            words, paren = [], []
        (paren if is_paren else words).append(text)
    if words or paren:
        lines.append(DialogueLine(name, _plain(" ".join(words)), " ".join(paren).strip("() "), ext, dual))
    return lines


def _scenes(paragraphs: list, problems: list[str]) -> list[Scene]:
    """Walk the paragraphs in order; a heading opens a scene, everything after it belongs to it."""
    cues = [d for p in paragraphs for d in ((p.left, p.right) if isinstance(p, DualDialog) else (p,))
            if isinstance(d, Dialog)]  # fmt: skip
    speakers = list(dict.fromkeys(n for n in (speaker(str(d.character))[0] for d in cues) if n))
    scenes: list[Scene] = []
    sections: list[str] = []
    opening: list[str] = []  # FADE IN: and the like, before the first heading, open the first scene
    for p in paragraphs:
        scene = scenes[-1] if scenes else None
        if isinstance(p, Slug):
            heading = _plain(p.line).strip()
            int_ext, location, time = split_heading(heading)
            scene = Scene(len(scenes) + 1, heading, int_ext, location, time, section=" / ".join(sections))
            scene.transitions, opening = opening, []
            scene.synopses += [p.synopsis] if p.synopsis else []
            scenes.append(scene)
        elif isinstance(p, Section):
            sections = [*sections[: p.level - 1], _plain(p.text).strip()]
        elif isinstance(p, PageBreak):
            continue
        elif isinstance(p, Transition) or (isinstance(p, Action) and p.centered):
            # centred text ("THE END") is a card between shots, not something to draw
            (scene.transitions if scene else opening).append(_plain(" ".join(map(str, p.lines))).strip())
        elif isinstance(p, Action):
            text = re.sub(r"\s+", " ", _plain(" ".join(str(line).strip() for line in p.lines))).strip()
            where = f"scene {scene.number}" if scene else "before the first scene heading"
            # "NOTE: ..." and a lone "[scene intro]" speak to the reader; a board cannot draw them
            if scene is None or re.match(r"(?i)note\b\s*:", text) or re.fullmatch(r"\[[^\]]*\]", text):
                problems.append(f"{where}: {'note to the reader' if scene else 'text'} not drawn: {text[:80]!r}")
            elif text.startswith("="):
                scene.synopses.append(text.lstrip("= "))  # a synopsis screenplain could not attach
            else:
                scene.action.append(text)
                scene.elements.append(("action", text))
                _add(scene.characters, named_characters(text, speakers))
        elif isinstance(p, Dialog | DualDialog):
            pair = (p.left, p.right) if isinstance(p, DualDialog) else (p,)
            lines = [line for d in pair for line in _dialogue(d, dual=len(pair) == 2)]
            if not lines:
                continue  # a cue whose speech was all note or boneyard
            if scene is None:
                problems.append(f"before the first scene heading: dialogue not placed: {lines[0].character}")
                continue
            scene.dialogue += lines
            scene.elements += [("dialogue", line) for line in lines]
            _add(scene.characters, [line.character for line in lines])
    return scenes


def _add(names: list[str], new: list[str]) -> None:
    names.extend(n for n in dict.fromkeys(new) if n not in names)
