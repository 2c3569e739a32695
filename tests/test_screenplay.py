"""Screenplay -> scenes -> shot plans -> prompts, on the three sample screenplays and on small scripts written here."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from cinefoundry.core.errors import InputError
from cinefoundry.storyboard.board import SHOT_SIZES, Scene, ShotPlan
from cinefoundry.storyboard.breakdown import break_down, break_down_all
from cinefoundry.storyboard.prompts import shot_prompt
from cinefoundry.storyboard.screenplay import parse_fountain, parse_scene_range, split_heading

ASCENT = "Ascent_to_Guru_Peak.fountain"
DOGS = "Cyber_Bob_ep00001_Traffic_Control_Dogs.fountain"
LINCOLN = "Cyber_Bob_ep04_The_Great_Fake_Lincoln_Debate.fountain"
SAMPLES = [ASCENT, DOGS, LINCOLN]
STYLE = "A shot from Sintel (2010), an animated short film."
# the heading rule, written again here so the parser is checked against an independent count
HEADING_LINE = re.compile(r"^(?:(?:INT|EXT|EST|INT\.?/EXT\.?|I/E)[. ]|\.[A-Za-z0-9])", re.IGNORECASE)


@pytest.fixture(scope="module")
def folder(samples: Path) -> Path:
    return samples / "screenplays"


@pytest.fixture(scope="module")
def plays(folder: Path) -> dict:
    return {name: parse_fountain(folder / name) for name in SAMPLES}


def raw_headings(path: Path) -> list[str]:
    """Lines that are scene headings: the heading rule, alone between blank lines."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    alone = [(i == 0 or not lines[i - 1]) and (i + 1 == len(lines) or not lines[i + 1]) for i in range(len(lines))]
    return [line.lstrip(".").upper() for line, ok in zip(lines, alone, strict=True) if ok and HEADING_LINE.match(line)]


def write(tmp_path: Path, text: str, name: str = "script.fountain") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def speech_shots(plans: list[ShotPlan], scene: int) -> list[ShotPlan]:
    return [p for p in plans if p.scene == scene and p.dialogue]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_heading_of_each_sample_becomes_a_scene(folder: Path, plays: dict, name: str) -> None:
    play = plays[name]
    meta = {m["file"]: m for m in json.loads((folder / "screenplays.json").read_text())}[name]
    assert [s.heading for s in play.scenes] == raw_headings(folder / name)
    assert len(play.scenes) == meta["scenes"]
    assert [s.number for s in play.scenes] == list(range(1, len(play.scenes) + 1))
    assert play.authors == [meta["author"]] and play.credit == "by"
    assert play.title.lower() == meta["title"].lower()
    for scene in play.scenes:
        assert scene.int_ext in {"INT", "EXT"} and scene.location and scene.time_of_day in {"DAY", "NIGHT"}
        assert scene.elements and len(scene.elements) == len(scene.action) + len(scene.dialogue)


def test_ascent_scenes_dialogue_and_characters(plays: dict) -> None:
    play = plays[ASCENT]
    assert play.title == "ASCENT TO GURU PEAK"
    assert "Creative Commons Attribution 4.0" in play.title_page["Copyright"]
    first, peak = play.scenes[0], play.scenes[5]
    assert (first.int_ext, first.location, first.time_of_day) == ("EXT", "MOUNT GURU FOOTHILLS", "DAY")
    assert first.transitions == ["FADE IN:"] and first.characters == ["YORBLEF"]  # "GURU 12 MI." is a sign
    assert first.dialogue[0].text.startswith("Huh. New trail? And I'm sure")
    # the reader's note is kept out of the action and reported
    assert not any("NOTE" in a for a in first.action)
    assert any("We will call this character" in p for p in play.problems)
    assert peak.heading == "EXT. PEAK OF MOUNT GURU--NIGHT" and peak.location == "PEAK OF MOUNT GURU"
    assert peak.characters == ["GURU", "YORBLEF"]  # introduced in CAPS before anyone speaks
    assert [d.text for d in peak.dialogue if d.character == "GURU"] == ["People are always upset about something."]
    agitated = next(d for d in peak.dialogue if d.parenthetical == "agitated")
    assert agitated.character == "YORBLEF" and agitated.text.startswith("No no, no. No. I did not hike 11 miles")
    before = peak.dialogue[peak.dialogue.index(agitated) - 1]
    assert before.text == "Well, that is true. But. Ah, wait." and before.parenthetical == ""
    assert peak.dialogue[-1].parenthetical == "sarcastic" and peak.dialogue[-1].text == "Let's lunch sometime."
    assert peak.transitions == ["CUT TO BLACK:", "THE END"]
    assert play.scenes[1].characters == ["YORBLEF"]  # "Yorblef hikes through a dense forest."


def test_cyber_bob_speakers_extensions_and_problems(plays: dict) -> None:
    dogs, lincoln = plays[DOGS], plays[LINCOLN]
    park = dogs.scenes[0]
    assert park.characters[:3] == ["CYBER BOB", "DOG", "MARGARET"]
    assert [(d.character, d.text) for d in park.dialogue[:3]] == [("BOB", "Hi hello."), ("DOG", "YIP YUP!"),
                                                                  ("MARGARET", "Hiii.")]  # fmt: skip
    # "CYBER BOSS, 40 (or any age), an ageless," introduces a character; it is no character cue
    assert any(a.startswith("CYBER BOSS, 40 (or any age), an ageless, faceless") for a in park.action)
    assert any("read as action" in p for p in dogs.problems)
    assert any(p.startswith("before the first scene heading") for p in dogs.problems)
    assert dogs.scenes[2].int_ext == "INT" and dogs.scenes[2].characters == ["BOB", "DOG"]
    voice = next(d for d in lincoln.scenes[1].dialogue if d.character == "CYBER BOSS")
    assert voice.extension == "V.O." and voice.text == "Follow GPS directions to trans-dimensional rift."
    assert lincoln.scenes[0].location == "BOB'S KITCHEN"
    assert "[scene intro]" not in lincoln.scenes[2].action  # a placeholder for the writer, not a picture
    assert lincoln.scenes[2].transitions == ["FADE OUT:", "THE END"]
    # the draft date is in a boneyard and the archive URL in a note: neither may surface anywhere
    everything = json.dumps([s.__dict__ for s in lincoln.scenes], default=str) + str(lincoln.title_page)
    assert "Draft date" not in everything and "archival" not in everything


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("INT. KITCHEN - NIGHT", ("INT", "KITCHEN", "NIGHT")),
        ("EXT. MOUNT GURU FOOTHILLS--DAY", ("EXT", "MOUNT GURU FOOTHILLS", "DAY")),
        ("INT./EXT. CAR - MOVING - DUSK", ("INT/EXT", "CAR - MOVING", "DUSK")),
        ("I/E HOUSE - CONTINUOUS", ("INT/EXT", "HOUSE", "CONTINUOUS")),
        ("EST. CITY SKYLINE - early morning", ("EXT", "CITY SKYLINE", "EARLY MORNING")),
        ("INT. HOUSE - KITCHEN", ("INT", "HOUSE - KITCHEN", "")),
        ("FLASHBACK", ("", "FLASHBACK", "")),
    ],
)
def test_heading_split(heading: str, expected: tuple[str, str, str]) -> None:
    assert split_heading(heading) == expected


def test_establishing_shot_for_each_new_location(plays: dict, tmp_path: Path) -> None:
    for name in SAMPLES:  # every sample scene is in a new place
        plans = break_down_all(plays[name])
        firsts = [p for p in plans if p.number == 1]
        assert len(firsts) == len(plays[name].scenes)
        assert all(p.kind == "establishing" and p.size == "wide" and p.duration_s == 3.0 for p in firsts)
        assert sum(p.kind == "establishing" for p in plans) == len(plays[name].scenes)
    script = (
        "INT. KITCHEN - DAY\n\nAna pours coffee.\n\nINT. KITCHEN - LATER\n\nAna washes the cup.\n\n"
        ".THE GARDEN\n\nAna walks through the garden.\n"
    )
    play = parse_fountain(write(tmp_path, script))
    plans = break_down_all(play)
    assert [sum(p.kind == "establishing" for p in plans if p.scene == n) for n in (1, 2, 3)] == [1, 0, 1]
    assert [p.description for p in plans if p.kind == "establishing"] == ["Kitchen, day", "The Garden"]
    assert break_down(play.scenes[1])[0].kind == "establishing"  # a scene on its own is always new


def test_two_speakers_get_alternating_over_the_shoulder_coverage(plays: dict) -> None:
    plans = break_down_all(plays[DOGS])
    speech = speech_shots(plans, 3)  # INT. TRAFFIC LIGHT: Bob and the dog
    assert speech and all(p.kind == "over-the-shoulder" and p.angle == "over the shoulder" for p in speech)
    assert all(set(p.characters) == {"BOB", "DOG"} and p.characters[0] == p.dialogue[0].character for p in speech)
    by_number = {p.number: p for p in plans if p.scene == 3}
    run = [by_number[n] for n in range(14, 19)]  # dog, Bob, dog, Bob, dog: no action between them
    assert [p.dialogue[0].character for p in run] == ["DOG", "BOB", "DOG", "BOB", "DOG"]
    for a, b in itertools.pairwise(speech):  # back-to-back turns always cut to the other side
        if b.number == a.number + 1:
            assert a.characters[0] != b.characters[0]


def test_one_speaker_singles_group_first_and_voices_off_screen(plays: dict) -> None:
    ascent = break_down_all(plays[ASCENT])
    alone = speech_shots(ascent, 5)  # Yorblef talks to himself on the saddle
    assert alone and all(p.kind == "single" and p.characters == ["YORBLEF"] for p in alone)
    assert {p.size for p in alone} == {"medium", "close-up"}  # shouting earns the close-up
    last = speech_shots(ascent, 6)[-1]  # a parenthetical splits the speech, the shot stays one
    assert [d.parenthetical for d in last.dialogue] == ["", "sarcastic"] and last.kind == "over-the-shoulder"
    lincoln = break_down_all(plays[LINCOLN])
    debate = speech_shots(lincoln, 3)
    assert debate[0].kind == "two-shot" and {"MODERATOR", "LINCOLN", "BOB"} <= set(debate[0].characters)
    assert debate[1].kind == "single" and debate[1].characters == ["LINCOLN"]
    voice = speech_shots(lincoln, 2)[-1]  # CYBER BOSS (V.O.): heard over Margaret and Bob
    assert voice.description.startswith("Cyber Boss (V.O.): Follow GPS")
    assert "CYBER BOSS" not in voice.characters and set(voice.characters) == {"MARGARET", "BOB"}


@pytest.mark.parametrize("name", SAMPLES)
def test_shots_are_numbered_sized_and_timed_sensibly(plays: dict, name: str) -> None:
    play = plays[name]
    plans = break_down_all(play)
    assert plans == break_down_all(play)  # deterministic
    for scene in play.scenes:
        assert [p.number for p in plans if p.scene == scene.number] == list(range(1, 1 + sum(
            p.scene == scene.number for p in plans)))  # fmt: skip
    assert all(p.size in SHOT_SIZES and 1.0 <= p.duration_s <= 12.0 and p.description for p in plans)
    assert all(set(p.characters) <= set(play.scenes[p.scene - 1].characters) for p in plans)
    words = sum(len(t.split()) for s in play.scenes for t in s.action + [d.text for d in s.dialogue])
    total = sum(p.duration_s for p in plans)
    assert words / 3.0 < total < words / 1.5  # about reading speed, plus establishing shots
    assert 3 * 60 < total < 10 * 60  # five to eight pages each: minutes, not seconds or hours


def test_action_rules_and_durations(tmp_path: Path) -> None:
    script = """EXT. HARBOUR - DAWN

The crowd runs across the quay toward the boats.

Mara sits.

Tears fill her eyes.

She picks up the phone and reads the note.

The camera pans across the empty deck.

Handheld, we follow her down the gangway.

MARA
(quietly)
It's time.
We go now.

TOMAS
Now?
"""
    scene = parse_fountain(write(tmp_path, script)).scenes[0]
    plans = break_down(scene)
    assert [(p.kind, p.size) for p in plans[:7]] == [("establishing", "wide"), ("action", "wide"),
        ("action", "medium"), ("action", "close-up"), ("insert", "insert"), ("action", "medium"),
        ("action", "medium")]  # fmt: skip
    assert [p.move for p in plans[1:7]] == ["static"] * 4 + ["pan", "handheld"]
    assert plans[2].characters == ["MARA"] and plans[4].characters == ["MARA"]  # "she" is the Mara named last
    assert plans[1].duration_s == 3.6  # 9 words / 2.5 words a second
    assert plans[2].duration_s == 1.5  # "Mara sits." is short, but a shot needs time to read
    mara, tomas = plans[7], plans[8]
    assert mara.description == "Mara: It's time. We go now."
    assert mara.duration_s == round(5 / 2.7 + 0.5, 1)  # one line: the parenthetical is no line of its own
    assert [d.parenthetical for d in mara.dialogue] == ["quietly"] and mara.kind == "over-the-shoulder"
    assert tomas.characters == ["TOMAS", "MARA"] and tomas.duration_s == 1.0  # clamped up from 0.87 s


def test_dual_dialogue_is_one_two_shot(tmp_path: Path) -> None:
    script = "INT. HALL - NIGHT\n\nBOB\nAfter you.\n\nMARGARET ^\nNo, after you.\n"
    scene = parse_fountain(write(tmp_path, script)).scenes[0]
    assert [(d.character, d.dual) for d in scene.dialogue] == [("BOB", True), ("MARGARET", True)]
    shots = break_down(scene)
    assert len(shots) == 2 and shots[1].kind == "two-shot" and shots[1].characters == ["BOB", "MARGARET"]


def test_sections_synopses_forced_headings_and_cues(tmp_path: Path) -> None:
    script = """Title: **The Long Night**
Credit: Written by
Authors: Ana Ruiz & Tomas Berg
Draft date: 2024-05-01

# ACT ONE
= The setup.

## Morning

INT. HOUSE - DAY

= Ana wakes up.

ANA (V.O.)
I never slept.

@McCLANE (CONT'D)
(wryly)
Nobody does.

===

.UNDER THE BRIDGE

Water drips.

> SMASH CUT TO:

# ACT TWO

EXT. ROOF - NIGHT

[[nothing written here yet]]
"""
    play = parse_fountain(write(tmp_path, script))
    assert play.title == "The Long Night" and play.credit == "Written by"
    assert play.authors == ["Ana Ruiz", "Tomas Berg"] and play.title_page["Draft date"] == "2024-05-01"
    house, bridge, roof = play.scenes
    assert house.section == "ACT ONE / Morning" and house.synopses == ["Ana wakes up."]
    assert [(d.character, d.extension, d.parenthetical) for d in house.dialogue] == [
        ("ANA", "V.O.", ""), ("McCLANE", "", "wryly")]  # fmt: skip
    assert (bridge.int_ext, bridge.location, bridge.section) == ("", "UNDER THE BRIDGE", "ACT ONE / Morning")
    assert bridge.transitions == ["SMASH CUT TO:"] and bridge.action == ["Water drips."]
    assert roof.section == "ACT TWO" and roof.dialogue == [] and roof.elements == []
    assert [p.kind for p in break_down(roof)] == ["establishing"]  # nothing to draw still gets a panel


def test_prompts_lead_with_camera_location_and_light(plays: dict, tmp_path: Path) -> None:
    for name in SAMPLES:
        play = plays[name]
        for plan in break_down_all(play):
            scene = play.scenes[plan.scene - 1]
            prompt = shot_prompt(plan, scene, STYLE)
            light = "daylight" if scene.time_of_day == "DAY" else "night, low light"
            assert light in prompt and ("exterior" if scene.int_ext == "EXT" else "interior") in prompt
            assert prompt.endswith(STYLE) and len(prompt.split()) <= 60
            for who in plan.characters:
                assert who.lower() in prompt.lower()
    peak = plays[ASCENT].scenes[5]
    first = shot_prompt(break_down(peak)[0], peak, STYLE)
    assert first.startswith("Wide establishing shot, eye level, static camera. Peak of Mount Guru, exterior, night")
    talk = next(p for p in break_down(peak) if p.kind == "over-the-shoulder")
    assert shot_prompt(talk, peak, "").startswith("Over-the-shoulder medium shot, static camera. Peak of Mount Guru")
    assert "Yorblef" in shot_prompt(talk, peak, "") and "Guru" in shot_prompt(talk, peak, "")
    dawn = Scene(
        1, "INT. BARN - DAWN", "INT", "BARN", "DAWN", action=["Hens wake."], elements=[("action", "Hens wake.")]
    )
    words = " ".join(["word"] * 80)
    long = ShotPlan(1, 2, "medium", "eye level", "static", "action", words, ["ROSA", "ALMA MARIA"])
    prompt = shot_prompt(long, dawn, STYLE)
    assert "interior, golden hour" in prompt and len(prompt.split()) <= 60
    assert "Rosa" in prompt and "Alma Maria" in prompt  # the description shrinks, the names stay


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"  \n\n\t\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        ("INT. CAF\u00c9 - DAY\n\nOl\u00e9.\n".encode("latin-1"), "not UTF-8"),
        (b"Title: Nothing Here\n\nJust some words.\n\nMORE WORDS\nSpoken.\n", "no scene headings (INT./EXT.)"),
        (b"/* all of it\n\nINT. GONE - DAY\n*/\n[[ and a note ]]\n", "nothing outside boneyard"),
    ],
)
def test_bad_files_give_clear_input_errors(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.fountain"
    path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(problem)) as err:
        parse_fountain(path)
    assert err.value.source == str(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        parse_fountain(tmp_path / "nope.fountain")
    with pytest.raises(InputError, match="not a file"):
        parse_fountain(tmp_path)


def test_boneyard_notes_and_stray_text_do_not_leak(tmp_path: Path) -> None:
    script = """Stray words before any scene.

INT. OFFICE - DAY

Ines types. [[fix this beat later]] The printer hums.

/* She used to
smoke here. */

[[A note that runs

over a blank line]]

INES
Done. [[louder?]]

EXT. ROOF - NIGHT

Ines looks at the city. /* never closed
"""
    play = parse_fountain(write(tmp_path, script))
    office = play.scenes[0]
    assert office.action == ["Ines types. The printer hums."]
    assert [d.text for d in office.dialogue] == ["Done."]
    assert any("Stray words before any scene" in p for p in play.problems)
    assert any("unclosed boneyard" in p for p in play.problems)
    assert play.title == "" and play.scenes[1].characters == ["INES"]


def test_scene_ranges() -> None:
    assert parse_scene_range("1-3", 6) == [1, 2, 3]
    assert parse_scene_range("2", 6) == [2]
    assert parse_scene_range("1,4-5", 6) == [1, 4, 5]
    assert parse_scene_range(" 5 , 1-2 ", 6) == [1, 2, 5]
    assert parse_scene_range("all", 3) == [1, 2, 3]
    with pytest.raises(ValueError, match=r"scene range '4-8' names unknown scene\(s\) 7, 8; the script has 6 scenes"):
        parse_scene_range("4-8", 6)
    with pytest.raises(ValueError, match=r"'0'.*has 6 scenes \(1-6\)"):
        parse_scene_range("0", 6)
    with pytest.raises(ValueError, match="'a-b' is not a scene number"):
        parse_scene_range("1,a-b", 6)
    with pytest.raises(ValueError, match="runs backwards"):
        parse_scene_range("3-1", 6)
