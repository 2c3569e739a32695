"""A shot plan as a text-to-video prompt: camera, place and light first, then what happens, who, and the house style.

The demo text encoder reads the first 48 tokens, so the words that decide the picture come first and the
description is what gets shortened when a prompt runs long; character names are never cut (the likeness
guard checks them).
"""

from __future__ import annotations

import re

from cinefoundry.storyboard.board import Scene, ShotPlan
from cinefoundry.storyboard.screenplay import display_name

MAX_WORDS = 60
MIN_DESCRIPTION_WORDS = 6
SIZES = {"wide": "Wide shot", "medium": "Medium shot", "close-up": "Close-up", "insert": "Insert close-up"}
ANGLES = {"eye level": "eye level", "high": "high angle", "low": "low angle", "overhead": "overhead angle"}
MOVES = {"static": "static camera", "pan": "slow pan", "tilt": "slow tilt", "dolly in": "dolly in",
         "dolly out": "dolly out", "tracking": "tracking camera", "handheld": "handheld camera",
         "crane": "crane move"}  # fmt: skip
SETTINGS = {"INT": "interior", "EXT": "exterior", "INT/EXT": "interior and exterior"}
LIGHT = [  # the first word of the heading's time of day that names a light wins
    ("NIGHT", "night, low light"), ("MIDNIGHT", "night, low light"), ("DAWN", "golden hour"),
    ("DUSK", "golden hour"), ("SUNRISE", "golden hour"), ("SUNSET", "golden hour"), ("TWILIGHT", "golden hour"),
    ("MAGIC", "golden hour"), ("GOLDEN", "golden hour"), ("MORNING", "morning light"), ("NOON", "midday sun"),
    ("AFTERNOON", "afternoon light"), ("EVENING", "evening light"), ("DAY", "daylight"),
]  # fmt: skip


def shot_prompt(plan: ShotPlan, scene: Scene, house_style: str) -> str:
    """The prompt for one shot: camera, location and lighting, description, characters by name, house style."""
    head = f"{camera(plan)}."
    place = ", ".join(x for x in (display_name(scene.location), lighting(scene)) if x)
    people = [display_name(c) for c in plan.characters]
    cast = f"Characters: {_join(people)}." if people else ""
    style = house_style.strip()
    # an establishing shot's caption is only its place, already said
    description = "" if plan.kind == "establishing" else _what(plan, people)
    fixed = [head, f"{place}." if place else "", cast, style]
    room = max(MIN_DESCRIPTION_WORDS, MAX_WORDS - sum(len(p.split()) for p in fixed))
    words = description.split()
    description = " ".join(words[:room]).rstrip(",;:") + ("." if description else "")
    return re.sub(r"\.\.+", ".", " ".join(p for p in (head, fixed[1], description, cast, style) if p))


def camera(plan: ShotPlan) -> str:
    """'Wide establishing shot, eye level, static camera': size (and coverage), angle, move."""
    size = SIZES.get(plan.size, f"{plan.size.capitalize()} shot")
    if plan.kind == "establishing":
        size = "Wide establishing shot"
    elif plan.kind == "over-the-shoulder":
        size = f"Over-the-shoulder {size[0].lower()}{size[1:]}"
    elif plan.kind == "two-shot":
        size = "Wide group shot" if len(plan.characters) > 3 else f"{size.split()[0]} two-shot"
    bits = [size, ANGLES.get(plan.angle, "" if plan.angle == "over the shoulder" else plan.angle)]
    bits.append(MOVES.get(plan.move, plan.move))
    return ", ".join(b for b in bits if b)


def lighting(scene: Scene) -> str:
    """'exterior, daylight' from INT/EXT and the time of day; an unknown time ('CONTINUOUS') says nothing."""
    words = set(re.findall(r"[A-Z]+", scene.time_of_day.upper()))
    light = next((phrase for word, phrase in LIGHT if word in words), "")
    return ", ".join(x for x in (SETTINGS.get(scene.int_ext, ""), light) if x)


def _what(plan: ShotPlan, people: list[str]) -> str:
    """What happens in the shot, in picture words: a speech becomes who speaks to whom, not the line itself."""
    text = plan.description.rstrip("…").strip()
    if not plan.dialogue:
        return f"Text reading {text}" if text.startswith(('"', "\u201c")) else text
    lines = plan.dialogue
    speaker = display_name(lines[0].character)
    mood = next((line.parenthetical for line in lines if line.parenthetical), "")
    others = [p for p in people if p != speaker]
    if lines[0].dual:
        what = f"{_join(people)} talking at once"
    elif speaker not in people:  # a voice over the shot: show the listeners
        what = f"{_join(people) or 'The scene'} listening to {speaker}'s voice"
    elif plan.kind == "over-the-shoulder" and others:
        what = f"{speaker} talking to {_join(others)}, over {others[0]}'s shoulder"
    else:
        what = f"{speaker} talking" + (f" with {_join(others)}" if others else "")
    return what + (f", {mood}" if mood else "")


def _join(names: list[str]) -> str:
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
