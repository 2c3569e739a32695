"""The likeness guard on the real sample catalog: performers, aliases, misspellings, characters, consents, faces."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import select

from cinefoundry.catalog.models import Performer
from cinefoundry.catalog.talent import ConsentIn, add_consent, revoke_consent
from cinefoundry.core.store import ObjectStore
from cinefoundry.provenance.faces import (
    FaceDetectionUnavailable,
    HaarFaceDetector,
    ReferenceFace,
    add_reference_face,
)
from cinefoundry.provenance.likeness import LikenessGuard, NameIndex
from cinefoundry.provenance.models import LikenessCheck

NO_CONSENT = "no synthetic_likeness consent on record"
requires_haar = pytest.mark.skipif(
    not hasattr(cv2, "CascadeClassifier"),
    reason=f"OpenCV {cv2.__version__} has no Haar cascades (OpenCV 5 dropped them): needs opencv-python-headless<5",
)


@pytest.fixture
def s(imported):
    """A session on the shared imported catalog, rolled back afterwards so consents and logs do not leak."""
    ws, _ = imported
    with ws.sessions() as session:
        session.info["actor"] = "tester"
        yield session
        session.rollback()


@pytest.fixture
def guard(s) -> LikenessGuard:
    return LikenessGuard(s, tenant="studio", actor="tester")


def consent(s, performer_id: str, **scope) -> int:
    fields = {"kind": "synthetic_likeness", "description": "previs of the rooftop scene", "representation": "union",
              "document_sha256": "a" * 64} | scope  # fmt: skip
    return add_consent(s, s.get(Performer, performer_id), ConsentIn(**fields), "tester").id


@pytest.mark.parametrize(
    ("prompt", "how", "reason"),
    [
        ("Denise Rebergen on a rooftop at dawn", "name", f"prompt names Denise Rebergen: {NO_CONSENT}"),
        ("denise rebergan on a rooftop", "fuzzy", f"prompt names Denise Rebergen (as 'denise rebergan'): {NO_CONSENT}"),
        ("A close-up of Rebergen in the rain", "name", f"prompt names Denise Rebergen (as 'Rebergen'): {NO_CONSENT}"),
        ("D. Rebergen fires a laser", "name", f"prompt names Denise Rebergen (as 'D. Rebergen'): {NO_CONSENT}"),
    ],
)
def test_a_performer_named_in_any_form_is_refused(guard, prompt: str, how: str, reason: str) -> None:
    d = guard.check_prompt(prompt)
    assert not d and d.performers == ["denise-rebergen"]
    assert d.reasons == [reason]
    assert [(m.performer, m.how) for m in d.matches] == [("denise-rebergen", how)]


@pytest.mark.parametrize(
    ("prompt", "performer"),
    [
        ("Sergio Hasselbank walks through the lab", "sergio-hasselbaink"),
        ("derek de lint as a general", "derek-de-lint"),
        ("Roger Shippers repairs a robot", "rogier-schippers"),
        ("vanya rukavina running", "vanja-rukavina"),
        ("Jody Bhe and a drone", "jody-bhe"),
        ("A portrait of Haley", "chris-haley"),
    ],
)
def test_other_tears_of_steel_performers_are_refused(guard, prompt: str, performer: str) -> None:
    d = guard.check_prompt(prompt)
    assert not d and d.performers == [performer]


def test_an_alias_is_a_name(s) -> None:
    s.get(Performer, "denise-rebergen").aliases = ["Neesy"]
    s.flush()
    d = LikenessGuard(s, "studio", "tester").check_prompt("Neesy dances on the bridge")
    assert not d and [(m.text, m.performer, m.how) for m in d.matches] == [("Neesy", "denise-rebergen", "alias")]
    assert d.reasons == [f"prompt names Denise Rebergen (as 'Neesy'): {NO_CONSENT}"]


def test_characters_played_on_screen_name_their_performers(guard) -> None:
    d = guard.check_prompt("Celia walks to the dome")
    assert not d and d.performers == ["denise-rebergen"]
    assert d.reasons == [f"prompt names Celia, played on screen by Denise Rebergen in Tears of Steel: {NO_CONSENT}"]
    assert [(m.text, m.how, m.title) for m in d.matches] == [("Celia", "character", "tears_of_steel")]
    both = guard.check_prompt("Thom and Celia argue on the bridge")
    assert not both and both.performers == ["vanja-rukavina", "denise-rebergen"]
    assert both.reasons[0].startswith("prompt names Thom, played on screen by Vanja Rukavina in Tears of Steel:")


def test_thom_hoffman_is_the_voice_actor_not_the_character_thom(guard) -> None:
    d = guard.check_prompt("Thom Hoffman reads a book by the fire")
    assert not d and d.performers == ["thom-hoffman"], "the full name wins over the character 'Thom' inside it"
    assert d.reasons == [f"prompt names Thom Hoffman: {NO_CONSENT}"]


@pytest.mark.parametrize(
    "prompt",
    [
        "a rabbit in a meadow",
        "Explosion in a steel factory, sparks and smoke, night",
        "tell them to run to the ship",
        "Tom walks his dog in the park",
        "Dustin Hoffman reads the paper",
        "a lint roller on a desk",
        "Chris Bailey waves",
        "shippers unload crates at the harbour",
        "Shippers unload crates at the harbour",
        "a cello in the rain",
        "Thomas and Cecilia dance",
    ],
)
def test_common_words_and_unrelated_names_are_allowed(guard, prompt: str) -> None:
    d = guard.check_prompt(prompt)
    assert d and d.performers == [] and d.matches == []
    assert d.reasons == ["prompt names no performer, alias or on-screen character of the catalog"]


def test_a_voice_role_does_not_block_but_the_voice_performer_is_protected(guard) -> None:
    d = guard.check_prompt("Sintel searches for her dragon in the snow")
    assert d and d.performers == []
    assert "Sintel is voiced by Halina Reijn in Sintel: a voice role, not a likeness" in d.reasons[1]
    refused = guard.check_prompt("Halina Reijn in a red coat")
    assert not refused and refused.reasons == [f"prompt names Halina Reijn: {NO_CONSENT}"]


def test_a_consent_allows_and_its_revocation_refuses_again(s, guard) -> None:
    consent_id = consent(s, "denise-rebergen")
    d = guard.check_prompt("Denise Rebergen as Celia on a rooftop")
    assert d and d.basis == [f"consent:{consent_id}"]
    assert d.reasons[0].startswith(f"prompt names Denise Rebergen: consent #{consent_id} allows synthetic_likeness")
    assert d.reasons[1].startswith("prompt names Celia, played on screen by Denise Rebergen in Tears of Steel: ")
    revoke_consent(s, consent_id, "performer withdrew", "tester")
    again = guard.check_prompt("Denise Rebergen on a rooftop")
    assert not again and f"consent #{consent_id} was revoked on" in again.reasons[0]
    assert "performer withdrew" in again.reasons[0]


def test_a_consent_for_other_titles_does_not_cover_a_tears_of_steel_character(s, guard) -> None:
    consent_id = consent(s, "denise-rebergen", titles=["sintel"])
    d = guard.check_prompt("Celia on the bridge")
    assert not d and f"consent #{consent_id} covers titles sintel only, not tears_of_steel" in d.reasons[0]
    assert guard.check_prompt("Denise Rebergen on the bridge", title="sintel").allowed, "in scope for its title"
    assert not guard.check_prompt("Denise Rebergen on the bridge").allowed, "a name alone is no title in scope"


def test_a_consent_for_another_territory_does_not_cover_worldwide_use(s) -> None:
    consent(s, "vanja-rukavina", territories=["NL"])
    assert LikenessGuard(s, "studio", "tester", territory="NL").check_prompt("Thom in the lab").allowed
    d = LikenessGuard(s, "studio", "tester").check_prompt("Thom in the lab")
    assert not d and "covers NL only, not worldwide" in d.reasons[0]


def test_every_decision_is_logged(s, guard) -> None:
    refused = guard.check_prompt("Celia walks")
    allowed = guard.check_prompt("a rabbit in a meadow")
    ids = [refused.check_id, allowed.check_id]
    rows = {r.id: r for r in s.scalars(select(LikenessCheck).where(LikenessCheck.id.in_(ids)))}
    row = rows[refused.check_id]
    assert (row.subject, row.allowed, row.performers, row.tenant, row.created_by) == (
        "prompt", False, ["denise-rebergen"], "studio", "tester")  # fmt: skip
    assert row.digest == hashlib.sha256(b"Celia walks").hexdigest() == refused.digest
    assert row.reasons == refused.reasons and row.detail == "Celia walks"
    assert rows[allowed.check_id].allowed is True
    assert refused.as_dict()["matches"][0]["how"] == "character"


def test_the_name_index_scales_to_thousands_of_performers() -> None:
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))

    def name() -> str:
        return "".join(rng.choice(letters, rng.integers(4, 10))).title()

    people = [(f"p{i}", f"{name()} {name()}", [name()] if i % 4 == 0 else []) for i in range(3000)]
    people.append(("denise-rebergen", "Denise Rebergen", []))
    index = NameIndex(people, [("Celia", "denise-rebergen", "on_screen", "tears_of_steel", "Tears of Steel")])
    prompt = "A wide shot of denise rebergan crossing a rain-soaked street at night while Celia watches, 35mm"
    start = time.perf_counter()
    for _ in range(50):
        found, _ = index.find(prompt)
    per_check = (time.perf_counter() - start) / 50
    assert [m.performer for m in found] == ["denise-rebergen", "denise-rebergen"]
    assert per_check < 0.02, f"{per_check * 1000:.1f} ms per prompt"  # measured ~1 ms; generous on a busy CI


# --- images and generated frames -------------------------------------------------------------------------


def decode(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """The wanted frames of a video, RGB (H, W, 3)."""
    out = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                out[i] = frame.to_ndarray(format="rgb24")
            if i >= max(wanted):
                break
    return out


@pytest.fixture(scope="session")
def stills(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real frames as PNG: a face (Tears of Steel, 24.5 s), another face (51 s), a meadow (Big Buck Bunny, 5 s)."""
    folder = tmp_path_factory.mktemp("stills")
    tos = decode(samples / "tears_of_steel" / "tos_battle_clip_800x332.webm", {588, 1224})
    bbb = decode(samples / "big_buck_bunny" / "bbb_0000-0100_640x360.mp4", {120})
    out = {}
    for name, rgb in (("face", tos[588]), ("other_face", tos[1224]), ("meadow", bbb[120])):
        out[name] = folder / f"{name}.png"
        cv2.imwrite(str(out[name]), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return out


class PixelMatcher:
    """Test-only stand-in for a studio's licensed face model: correlation of 32x32 grey crops, >= 0.95."""

    def match(self, face_bgr: np.ndarray, references: Sequence[ReferenceFace]) -> list[tuple[str, float]]:
        def vec(img: np.ndarray) -> np.ndarray:
            v = cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), (32, 32)).astype(np.float64).ravel()
            return (v - v.mean()) / (v.std() + 1e-9)

        query = vec(face_bgr)
        scores = [(r.performer_id, float(query @ vec(r.image()) / query.size)) for r in references]
        return [(pid, score) for pid, score in scores if score >= 0.95]


@pytest.fixture
def faces(s, stills, tmp_path: Path) -> ObjectStore:
    """The face at 24.5 s registered as Vanja Rukavina's reference, in a store of this test's own."""
    store = ObjectStore(tmp_path / "objects")
    add_reference_face(s, store, s.get(Performer, "vanja-rukavina"), stills["face"], "tester")
    return store


@pytest.mark.skipif(hasattr(cv2, "CascadeClassifier"), reason="this OpenCV has the Haar cascades")
def test_without_haar_cascades_the_detector_says_what_to_install_and_prompts_still_work(guard) -> None:
    with pytest.raises(FaceDetectionUnavailable, match="opencv-python-headless<5"):
        HaarFaceDetector()
    assert not guard.check_prompt("Celia walks").allowed


@requires_haar
def test_haar_cascades_find_the_face_in_a_live_action_frame_and_none_in_a_meadow(stills) -> None:
    detector = HaarFaceDetector()
    found = detector.detect(cv2.imread(str(stills["face"])))
    assert len(found) == 1 and found[0].kind == "frontal" and 90 <= found[0].w <= 130
    assert detector.detect(cv2.imread(str(stills["meadow"]))) == []


@requires_haar
def test_a_face_that_cannot_be_cleared_is_refused_by_default_and_allowed_only_when_asked(s, stills) -> None:
    d = LikenessGuard(s, "studio", "tester").check_image(stills["face"])
    assert not d and d.subject == "image"
    assert d.reasons == ["image: 1 face detected and could not be cleared: no face matcher is configured "
                         "(unknown_faces='refuse')"]  # fmt: skip
    lenient = LikenessGuard(s, "studio", "tester", unknown_faces="allow").check_image(stills["face"])
    assert lenient and "allowed as unknown_faces='allow'" in lenient.reasons[0]
    meadow = LikenessGuard(s, "studio", "tester").check_image(stills["meadow"])
    assert meadow and meadow.reasons == ["image: no face detected"]
    row = s.get(LikenessCheck, d.check_id)
    assert row.subject == "image" and row.detail == "face.png"
    assert row.digest == hashlib.sha256(stills["face"].read_bytes()).hexdigest()


@requires_haar
def test_a_matched_performer_needs_consent(s, stills, faces: ObjectStore) -> None:
    guard = LikenessGuard(s, "studio", "tester", face_matcher=PixelMatcher(), store=faces)
    d = guard.check_image(stills["face"])
    assert not d and d.performers == ["vanja-rukavina"] and d.matches[0].how == "face"
    assert d.reasons[0].startswith("image shows Vanja Rukavina (face match 1.00): " + NO_CONSENT)
    other = guard.check_image(stills["other_face"])
    assert other and other.reasons == ["image: 1 face detected; none matches the reference faces of 1 performers"]
    consent_id = consent(s, "vanja-rukavina")
    cleared = guard.check_image(stills["face"])
    assert cleared and cleared.basis == [f"consent:{consent_id}"]


@requires_haar
def test_generated_frames_are_sampled_and_checked_the_same_way(s, stills, faces: ObjectStore) -> None:
    rgb = {k: cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for k, p in stills.items()}
    meadow = cv2.resize(rgb["meadow"], rgb["face"].shape[1::-1])
    clip = np.stack([meadow, meadow, rgb["face"], meadow, meadow])  # (F, H, W, 3) uint8 RGB
    empty = LikenessGuard(s, "studio", "tester").check_frames(np.stack([meadow] * 5))
    assert empty and empty.subject == "output" and empty.reasons == ["output (4 of 5 frames sampled): no face detected"]
    guard = LikenessGuard(s, "studio", "tester", face_matcher=PixelMatcher(), store=faces, sample_frames=5)
    d = guard.check_frames(clip)
    assert not d and d.performers == ["vanja-rukavina"]
    assert d.reasons[0].startswith("output (5 of 5 frames sampled) shows Vanja Rukavina")
    assert s.get(LikenessCheck, d.check_id).subject == "output"
    with pytest.raises(ValueError, match="uint8 RGB"):
        guard.check_frames(clip.astype(np.float32))


@requires_haar
def test_registering_a_reference_face_keeps_the_image_by_sha256(s, stills, faces: ObjectStore) -> None:
    again = add_reference_face(s, faces, s.get(Performer, "vanja-rukavina"), stills["face"], "tester")
    sha = hashlib.sha256(stills["face"].read_bytes()).hexdigest()
    assert again.sha256 == sha and faces.exists(sha) and len(again.box) == 4
