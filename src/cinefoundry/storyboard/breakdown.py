"""Scenes into shots by fixed rules a storyboard artist would accept; the same script always gives the same board.

1. a new location opens with a wide establishing shot (3 s);
2. each action paragraph is one shot, sized by what it shows (movement and places wide, faces close, handled
   objects insert, else medium), with the camera move the text names (pans, tracks, push in ...) or static;
3. dialogue is covered by who talks in the scene: one speaker gets singles, two get alternating
   over-the-shoulder shots, three or more a group two-shot first and singles after; a speaker's
   consecutive lines stay in one shot;
4. durations follow reading speed (action 2.5 words/s, speech 2.7 words/s + 0.5 s a line), clamped to 1-12 s.
"""

from __future__ import annotations

import re
from typing import Any

from cinefoundry.storyboard.board import DialogueLine, Scene, Screenplay, ShotPlan
from cinefoundry.storyboard.screenplay import display_name, is_off_screen, named_characters


def _words(*words: str) -> re.Pattern[str]:
    """Whole words, any case; each argument is one alternative or several joined by '|'."""
    return re.compile(r"(?<![\w-])(?:" + "|".join(words) + r")(?![\w-])", re.IGNORECASE)


# the first sentence, which is also the panel's caption, sets the size: the drawing must match its words
SIZE_WORDS = {
    "insert": _words(
        "hands?|fingers?|notes?|letter|screens?|phones?|keys?|app|icon|notification|signs?|button|lever|"
        "clock|envelope|photo(?:graph)?|map"
    ),
    "close-up": _words(
        "face|faces|eyes?|tears?|cries|cry(?:ing)?|weeps|smiles?|grins|frowns|winces|sighs?|gasps|stares|"
        "glares|expression|reacts|reaction|realiz(?:es|ation)|afraid|fearful|puzzled|confused|aghast|"
        "perplexed|flustered|deflated|crushed|nonplussed|shocked|stunned|nervous(?:ly)?|leery|pensive|awe|"
        "laugh(?:s|ing)?|growl|blinks|nods|whispers|jolts|looks"
    ),
    "wide": _words(
        "walk(?:s|ing)?|run(?:s|ning)?|ran|hik(?:e|es|ing)|arriv(?:e|es|ing)|enters?|exits?|leaves|"
        "cross(?:es|ing)?|strolls?|crawls?|climbs?|descends?|approach(?:es)?|chases?|races|flies|drives?|"
        "steps (?:down|up|back|into|out)|crowds?|audience|everyone|people|landscape|mountains?|valleys?|"
        "forest|meadow|stream|river|lake|sea|ocean|sky|city|cities|streets?|park|fields?|desert|horizon|"
        "view|bridge|chasm|cliff|trail|peak|foothills|intersection|platforms?"
    ),
}
# a prop is an insert only while someone handles it: "picks up a stone", not "sits on a stone throne"
PROPS = _words(
    "stones?|cans?|spoon|bowl|box|cup|glass|bottle|knife|gun|book|coin|card|microphone|soda|hat|beard|leash|cereal"
)
HANDLING = _words(
    "holds?|holding|picks? up|grabs?|pours?|stirs?|tosses|throws?|catches|opens?|pulls?|taps?|"
    "unlocks?|hands? (?:over|it)|drinks?|demonstrates"
)
CROWD_RE = re.compile(r"^(?:the |a |an )?(?:\w+ )?(?:audience|crowd|everyone|people|they all|all the)\b", re.I)
QUOTE_ONLY_RE = re.compile(r'^[*_]*["\u201c].*["\u201d][*_.]*$')  # a sign or screen the shot reads
MOVES = [  # first match wins: a named camera move beats a generic one
    (_words("hand-?held"), "handheld"),
    (_words(r"push(?:es)? in", r"zooms? in", r"dolly(?:ing)? in", "dolly"), "dolly in"),
    (_words(r"pulls? (?:back|out)", r"dolly(?:ing)? out"), "dolly out"),
    (_words(r"cranes?(?: up| down)?"), "crane"),
    (_words(r"track(?:s|ing)", r"camera follows", r"we follow"), "tracking"),
    (_words(r"pan(?:s|ning)"), "pan"),
    (_words(r"tilt(?:s|ing)?"), "tilt"),
]
ANGLES = [
    (_words("overhead", r"bird'?s[- ]eye", "from above", "top-down"), "overhead"),
    (_words("low angle", "from below", r"towers?", r"looms?"), "low"),
    (_words("high angle", r"looks? down (?:at|on)"), "high"),
]
PRONOUN_RE = re.compile(r"^(?:he|she|his|her|him)\b", re.IGNORECASE)
GROUP_PRONOUN_RE = re.compile(r"^(?:they|their|them|both)\b", re.IGNORECASE)
SENTENCE_END_RE = re.compile(r"[.!?]+[\"')\]\u201d]*\s+(?=[\"'(\u201cA-Z])")
MIN_S, MAX_S, ESTABLISHING_S = 1.0, 12.0, 3.0


def break_down_all(screenplay: Screenplay) -> list[ShotPlan]:
    """Every scene's shots in order; a scene opens with an establishing shot only where the location changes."""
    plans: list[ShotPlan] = []
    previous = None
    for scene in screenplay.scenes:
        place = _place(scene)
        plans += break_down(scene, new_location=place != previous)
        previous = place
    return plans


def break_down(scene: Scene, new_location: bool = True) -> list[ShotPlan]:
    """One scene's shots, numbered from 1; `new_location` adds the establishing shot (a scene alone is new)."""
    talkers = list(dict.fromkeys(line.character for line in scene.dialogue if not is_off_screen(line)))
    beats = _beats(scene)
    shots: list[ShotPlan] = []
    subject: list[str] = []  # whom "he" or "she" in the next action means: the last one named or speaking
    present: list[str] = []  # whom "they" means: everyone seen so far in the scene
    for i, (kind, beat) in enumerate(beats):
        if kind == "action":
            shot = _action_shot(scene, beat, subject, present)
            if shot.characters and not PRONOUN_RE.match(beat):
                subject = shot.characters[:1]
        else:
            opens_run = i == 0 or beats[i - 1][0] == "action"
            run = _run_speakers(beats, i) if opens_run else []
            # three or more talking: a group shot opens the scene's first exchange and any exchange of three
            group = run if len(talkers) >= 3 and (len(run) >= 3 or not _has_group(shots)) else None
            last = shots[-1].characters if shots else present
            shot = _dialogue_shot(beat, talkers, last, group, dual=kind == "dual")
            subject = subject if is_off_screen(beat[0]) else [beat[0].character]
        present.extend(c for c in shot.characters if c not in present)
        shots.append(shot)
    if new_location or not shots:  # a scene with nothing to draw still needs a panel
        where = ", ".join(x for x in (display_name(scene.location), scene.time_of_day.lower()) if x) or scene.heading
        shots.insert(0, ShotPlan(scene.number, 0, "wide", "eye level", "static", "establishing", where,
                                 duration_s=ESTABLISHING_S))  # fmt: skip
    for number, shot in enumerate(shots, 1):
        shot.scene, shot.number = scene.number, number
    return shots


def _place(scene: Scene) -> str:
    return re.sub(r"\s+", " ", scene.location.upper()).strip() or scene.heading.upper()


def _beats(scene: Scene) -> list[tuple[str, Any]]:
    """The scene as ("action", text) and ("speech" | "dual", [lines]): a speaker's consecutive lines merge."""
    beats: list[tuple[str, Any]] = []
    for kind, item in scene.elements:
        if kind == "action":
            beats.append(("action", item))
            continue
        want = "dual" if item.dual else "speech"
        prev_kind, prev = beats[-1] if beats else ("", None)
        if prev_kind == want and (want == "dual" or (prev[-1].character == item.character
                                                     and is_off_screen(prev[-1]) == is_off_screen(item))):  # fmt: skip
            prev.append(item)
        else:
            beats.append((want, [item]))
    return beats


def _run_speakers(beats: list[tuple[str, Any]], start: int) -> list[str]:
    """Who talks on screen in the exchange starting at `start` (until the next action)."""
    names: list[str] = []
    for kind, beat in beats[start:]:
        if kind == "action":
            break
        names += [line.character for line in beat if not is_off_screen(line) and line.character not in names]
    return names


def _has_group(shots: list[ShotPlan]) -> bool:
    return any(s.kind == "two-shot" and s.dialogue for s in shots)


def _action_shot(scene: Scene, text: str, subject: list[str], present: list[str]) -> ShotPlan:
    """An action paragraph as one shot: size, angle and move from its words, the people it names in frame."""
    quoted = bool(QUOTE_ONLY_RE.match(text))
    first = text if quoted else _first_sentence(text)
    scores = {size: len(rx.findall(first)) for size, rx in SIZE_WORDS.items()}
    if HANDLING.search(first):
        scores["insert"] += len(PROPS.findall(first))
    best = max(scores, key=lambda size: scores[size])  # ties go to the first: insert, close-up, wide
    size = "insert" if quoted else "wide" if CROWD_RE.match(first) else best if scores[best] else "medium"
    move = next((m for rx, m in MOVES if rx.search(text)), "static")
    angle = next((a for rx, a in ANGLES if rx.search(text)), "eye level")
    people = named_characters(text, scene.characters)
    if PRONOUN_RE.match(text):
        people = list(dict.fromkeys(subject + people))
    elif GROUP_PRONOUN_RE.match(text):
        people = list(dict.fromkeys(present + people))
    seconds = max(1.5, _count(text) / 2.5)
    return ShotPlan(scene.number, 0, size, angle, move, "insert" if size == "insert" else "action",
                    _short(first, 20), people, duration_s=_clamp(seconds))  # fmt: skip


def _dialogue_shot(lines: list[DialogueLine], talkers: list[str], last: list[str], group: list[str] | None,
                   dual: bool) -> ShotPlan:  # fmt: skip
    """Coverage for one speaker's turn (or a dual exchange), chosen by how many talk on screen in the scene."""
    who = lines[0].character
    speakers = list(dict.fromkeys(line.character for line in lines))
    seconds = sum(_count(line.text) / 2.7 + 0.5 for line in lines)
    if dual:  # both at once: the lines overlap, so the longer side sets the length
        seconds = max(sum(_count(x.text) / 2.7 + 0.5 for x in lines if x.character == s) for s in speakers)
    label = " and ".join(display_name(s) for s in speakers) + (" (together)" if dual else "")
    if is_off_screen(lines[0]):
        label += f" ({lines[0].extension})"
    text = next((line.text for line in lines if line.text), lines[0].parenthetical)
    heated = any(line.parenthetical or "!" in line.text or _shouted(line.text) for line in lines)
    size, angle, kind, people = ("close-up" if heated else "medium"), "eye level", "single", [who]
    if dual:
        size, kind, people = "medium", "two-shot", speakers
    elif is_off_screen(lines[0]):  # heard, not seen: frame whoever is listening
        people = [c for c in (last or talkers) if c != who]
        size, kind = "medium", ("two-shot" if len(people) > 1 else "single")
    elif len(talkers) == 2:
        other = next(c for c in talkers if c != who)
        size, angle, kind, people = "medium", "over the shoulder", "over-the-shoulder", [who, other]
    elif group is not None:  # the group first, so the singles after it cut together
        people = list(dict.fromkeys([who, *group, *([] if len(group) > 1 else last)]))
        size, kind = ("wide" if len(people) > 3 else "medium"), "two-shot"
    return ShotPlan(0, 0, size, angle, "static", kind, f"{label}: {_short(text, 8)}", people, list(lines),
                    _clamp(seconds))  # fmt: skip


def _first_sentence(text: str) -> str:
    """Up to the first full stop outside quotes: 'It reads: "GURU 12 MI. ..."' is one sentence."""
    for m in SENTENCE_END_RE.finditer(text):
        if text.count('"', 0, m.start()) % 2 == 0:
            return text[: m.end()].strip()
    return text


def _count(text: str) -> int:
    return len(re.findall(r"[\w'\u2019-]+", text))


def _shouted(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 6 and all(c.isupper() for c in letters)


def _clamp(seconds: float) -> float:
    return round(min(MAX_S, max(MIN_S, seconds)), 1)


def _short(text: str, words: int) -> str:
    """The first `words` words, marked when cut: panel captions stay one line."""
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")
