"""The likeness guard: refuses prompts, reference images and outputs that name or show a performer without consent.

A prompt is searched for performers' names and aliases (with near misspellings) and for characters that a
performer plays on screen; a face in an image or output is compared with performers' reference faces by a
`FaceMatcher`. Each performer found is put to `policy.allowed(performer, kind, ...)`, the single rights gate.
Default: no consent, no generation. Every decision is written to `likeness_checks`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select
from sqlalchemy.orm import Session

from cinefoundry.catalog.models import Character, Performer, Title
from cinefoundry.catalog.policy import Decision, allowed
from cinefoundry.core.store import ObjectStore
from cinefoundry.provenance.faces import FaceDetector, FaceMatcher, HaarFaceDetector, ReferenceFace, decode_image
from cinefoundry.provenance.faces import reference_faces as load_reference_faces
from cinefoundry.provenance.models import LikenessCheck

# Lower-case name particles that belong to a surname ("de Lint", "van Gogh").
PARTICLES = frozenset({"d", "da", "das", "de", "del", "della", "den", "der", "di", "do", "dos", "du", "el", "la", "le",
                       "op", "st", "te", "ten", "ter", "van", "von", "zu"})  # fmt: skip
# Words that may stand before a surname without being another person's given name ("In Hoffman's style").
FUNCTION_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "nor", "of", "in", "on", "at", "by", "for", "from", "to", "with", "without",
    "into", "onto", "over", "under", "like", "as", "than", "then", "this", "that", "these", "those", "his", "her",
    "its", "their", "our", "my", "your", "is", "are", "was", "were", "be", "been", "not", "no", "so", "very", "mr",
    "mrs", "ms", "miss", "dr", "sir", "dame", "lady", "lord", "actor", "actress", "star", "starring", "featuring",
    "who", "whom", "whose", "which", "what", "where", "when", "while", "after", "before", "during", "near", "about",
    "against", "between", "through", "shot", "scene", "close", "wide",
})  # fmt: skip


class Match(NamedTuple):
    """What the guard found: the text (or face box), the performer id, how (name|alias|fuzzy|character|face)."""

    text: str
    performer: str
    how: str
    character: str | None = None
    title: str | None = None  # the character's title id
    score: float = 100.0


@dataclass
class GuardDecision:
    """The guard's answer: allowed, a reason per performer (or why nothing blocked), what matched, the log row."""

    allowed: bool
    reasons: list[str]
    performers: list[str] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    basis: list[str] = field(default_factory=list)  # consents relied on when allowed, e.g. ["consent:3"]
    subject: str = "prompt"
    digest: str = ""
    check_id: int | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields, matches as dicts."""
        return asdict(self) | {"matches": [m._asdict() for m in self.matches]}


def fold(text: str) -> str:
    """Lower case without accents, Dutch 'ij' as 'y': 'Rebergén' is 'rebergen', 'Reijn' is 'reyn'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().replace("ij", "y")


_WORD = re.compile(r"[^\W_]+")


class _Token(NamedTuple):
    text: str  # folded
    start: int
    end: int
    capital: bool
    opens: bool  # first word of a sentence, where a capital says nothing


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for m in _WORD.finditer(text):
        opens = not out or any(c in ".!?:;\n" for c in text[out[-1].end : m.start()])
        out.append(_Token(fold(m.group()), m.start(), m.end(), m.group()[0].isupper(), opens))
    return out


def _edits(n: int) -> int:
    """Edits a name token of n letters may differ by: none up to 3 letters (Bhe, Tom), 1 up to 7, then 2."""
    return 0 if n <= 3 else 1 if n <= 7 else 2


@dataclass(frozen=True)
class _Entry:
    tokens: tuple[str, ...]
    performer: str
    how: str  # name | alias | character
    given: str | None = None  # the performer's given name, for surname-only forms
    character: str | None = None
    title: str | None = None
    voice: bool = False  # a voice-only role: noted, never a likeness


class NameIndex:
    """Every performer name form, alias and character, indexed by first token; built once, read by many checks.

    Forms of a name "Denise Rebergen": the full name, "D. Rebergen" and the surname "Rebergen" alone. A given
    name alone is not a form (too common). A surname alone is not taken when another given name stands
    before it ("Dustin Hoffman" does not name Thom Hoffman).
    """

    def __init__(self, performers: Sequence[tuple[str, str, Sequence[str]]],
                 characters: Sequence[tuple[str, str, str, str, str]] = ()):  # fmt: skip
        """`performers`: (id, name, aliases); `characters`: (name, performer id, performance, title id, title)."""
        self.names = {pid: name for pid, name, _ in performers}
        self.titles = {title_id: title_name for *_, title_id, title_name in characters}
        self.by_first: dict[str, list[_Entry]] = {}
        for pid, name, aliases in performers:
            self._add_name(pid, name)
            for alias in aliases:
                self._add(_Entry(tuple(t.text for t in _tokens(alias)), pid, "alias"))
        for char, pid, performance, title_id, _ in characters:
            self._add(_Entry(tuple(t.text for t in _tokens(char)), pid, "character", character=char, title=title_id,
                             voice=performance != "on_screen"))  # fmt: skip
        # Deletion neighbourhoods of first tokens (SymSpell): two words within k edits share a string made by
        # at most k deletions from each, so misspelt candidates are dictionary look-ups, not a scan.
        self.deletes: dict[str, set[str]] = {}
        for first in self.by_first:
            for key in _deletions(first, _edits(len(first))):
                self.deletes.setdefault(key, set()).add(first)

    @classmethod
    def from_session(cls, s: Session) -> NameIndex:
        """Read every performer and every character with a performer from the catalog."""
        performers = s.execute(select(Performer.id, Performer.name, Performer.aliases)).all()
        characters = s.execute(
            select(Character.name, Character.performer_id, Character.performance, Title.id, Title.name)
            .join(Title, Title.id == Character.title_id)
            .where(Character.performer_id.is_not(None))
        ).all()
        return cls([(p.id, p.name, p.aliases or []) for p in performers], [tuple(c) for c in characters])

    def _add(self, entry: _Entry) -> None:
        if entry.tokens:
            self.by_first.setdefault(entry.tokens[0], []).append(entry)

    def _add_name(self, pid: str, name: str) -> None:
        tokens = tuple(t.text for t in _tokens(name))
        self._add(_Entry(tokens, pid, "name"))
        if len(tokens) < 2:
            return
        first = len(tokens) - 1
        while first > 1 and tokens[first - 1] in PARTICLES:
            first -= 1
        surnames = [tokens[first:]]
        if len(surnames[0]) > 1:  # "de Lint" is also written "DeLint"
            surnames.append(("".join(surnames[0]),))
            self._add(_Entry((*tokens[:first], *surnames[1]), pid, "name"))
        for surname in surnames:
            self._add(_Entry((tokens[0][0], *surname), pid, "name"))
            self._add(_Entry(surname, pid, "name", given=tokens[0]))

    def find(self, text: str) -> tuple[list[Match], list[Match]]:
        """Performers named in `text`: (likeness matches, voice-only character matches)."""
        toks = _tokens(text)
        lowercase_only = not any(c.isupper() for c in text)
        near = self._near_first_tokens({t.text for t in toks})
        found: list[tuple[int, int, bool, _Entry, int]] = []  # (start, end, exact, entry, edits)
        for i, tok in enumerate(toks):
            for first, d0 in near.get(tok.text, ()):
                for entry in self.by_first[first]:
                    hit = self._compare(entry, toks, i, d0, lowercase_only)
                    if hit is not None:
                        found.append((i, i + len(entry.tokens), hit == 0, entry, hit))
        likeness, voice = [], []
        for i, j, exact, entry, _ in _resolve(found):
            seen = text[toks[i].start : toks[j - 1].end]
            how = entry.how if exact else ("character" if entry.how == "character" else "fuzzy")
            said = " ".join(t.text for t in toks[i:j])
            score = 100.0 if exact else round(fuzz.ratio(said, " ".join(entry.tokens)), 1)
            m = Match(seen, entry.performer, how, entry.character, entry.title, score)
            (voice if entry.voice else likeness).append(m)
        return likeness, voice

    def _near_first_tokens(self, words: set[str]) -> dict[str, list[tuple[str, int]]]:
        """For each prompt word, the index's first tokens it equals or nearly equals, with the edit count."""
        out: dict[str, list[tuple[str, int]]] = {}
        for w in words:
            hits = [(w, 0)] if w in self.by_first else []
            if len(w) >= 3 and w not in FUNCTION_WORDS:
                candidates = set().union(*(self.deletes.get(k, ()) for k in _deletions(w, 2 if len(w) >= 6 else 1)))
                for cand in candidates - {w}:
                    d = Levenshtein.distance(w, cand, score_cutoff=2)
                    if d <= _edits(len(cand)):
                        hits.append((cand, d))
            if hits:
                out[w] = hits
        return out

    def _compare(self, e: _Entry, toks: list[_Token], i: int, d0: int, lowercase_only: bool) -> int | None:
        """Edits between `e` and the prompt words from `i` on, or None when they do not match."""
        n = len(e.tokens)
        if i + n > len(toks):
            return None
        total = d0
        for k in range(1, n):
            want, got = e.tokens[k], toks[i + k].text
            d = 0 if want == got else Levenshtein.distance(want, got, score_cutoff=_edits(len(want)) + 1)
            if d > _edits(len(want)):
                return None
            total += d
        if n == 1:
            # One word can be an everyday word: it must be written as a name (capitalised, unless the whole
            # prompt is lower case); a misspelling counts only for names of 6+ letters, 1 edit off, capitalised
            # mid-sentence ("Shippers unload" at a sentence start is not Schippers).
            if not (toks[i].capital or lowercase_only):
                return None
            if total and (len(e.tokens[0]) < 6 or total > 1 or not toks[i].capital or toks[i].opens):
                return None
        elif total > 2:
            return None
        if e.given is not None and _other_given_name(toks, i, e.given):
            return None
        return total


def _deletions(word: str, k: int) -> set[str]:
    """`word` and every string made from it by deleting up to `k` letters."""
    out, frontier = {word}, {word}
    for _ in range(k):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def _other_given_name(toks: list[_Token], i: int, given: str) -> bool:
    """Does another person's given name (or initial) stand right before the surname at `i`?"""
    if i == 0:
        return False
    prev = toks[i - 1]
    if not prev.capital or prev.text in FUNCTION_WORDS or not prev.text.isalpha():
        return False
    if len(prev.text) == 1:
        return prev.text != given[0]
    return Levenshtein.distance(prev.text, given) > _edits(len(given))


def _resolve(found: list[tuple[int, int, bool, _Entry, int]]) -> list[tuple[int, int, bool, _Entry, int]]:
    """Longest spans win ("Thom Hoffman" over the character "Thom"); exact beats fuzzy on the same span."""
    taken: set[int] = set()
    kept: list[tuple[int, int, bool, _Entry, int]] = []
    by_span: dict[tuple[int, int], list[tuple[int, int, bool, _Entry, int]]] = {}
    for f in found:
        by_span.setdefault((f[0], f[1]), []).append(f)
    for (i, j), hits in sorted(by_span.items(), key=lambda kv: (kv[0][0] - kv[0][1], kv[0][0])):
        if taken & set(range(i, j)):
            continue
        taken |= set(range(i, j))
        best = min(h[4] for h in hits)
        seen: set[tuple[str, str | None]] = set()
        for h in hits:
            if h[4] == best and (h[3].performer, h[3].title) not in seen:
                seen.add((h[3].performer, h[3].title))
                kept.append(h)
    return sorted(kept, key=lambda h: h[0])


class LikenessGuard:
    """Checks prompts, reference images and generated frames against performers' consents; logs every decision.

    `unknown_faces`: what to do with a face that cannot be compared with performers (no matcher or no
    reference faces): "refuse" (default: no consent, no generation) or "allow" (said in the reasons).
    """

    def __init__(
        self,
        session: Session,
        tenant: str,
        actor: str,
        territory: str = "WW",
        on: dt.date | None = None,
        face_matcher: FaceMatcher | None = None,
        unknown_faces: str = "refuse",
        *,
        store: ObjectStore | None = None,
        face_detector: FaceDetector | None = None,
        index: NameIndex | None = None,
        kind: str = "synthetic_likeness",
        sample_frames: int = 4,
    ):
        if unknown_faces not in ("refuse", "allow"):
            raise ValueError(f"unknown_faces is 'refuse' or 'allow', not {unknown_faces!r}")
        self.session, self.tenant, self.actor = session, tenant, actor
        self.territory, self.on, self.kind = territory, on, kind
        self.matcher, self.unknown_faces, self.store = face_matcher, unknown_faces, store
        self.sample_frames = sample_frames
        self.index = index or NameIndex.from_session(session)
        self._detector = face_detector
        self._references: list[ReferenceFace] | None = None

    @property
    def detector(self) -> FaceDetector:
        # Built on first use, so a prompt-only guard works where the Haar cascades are missing.
        if self._detector is None:
            self._detector = HaarFaceDetector()
        return self._detector

    def references(self) -> list[ReferenceFace]:
        """Registered reference faces (read once per guard; none without a store)."""
        if self._references is None:
            self._references = load_reference_faces(self.session, self.store) if self.store else []
        return self._references

    def check_prompt(self, text: str, *, title: str | None = None, generation_id: str | None = None) -> GuardDecision:
        """Refuse a prompt naming a performer, alias or on-screen character without an in-scope consent.

        `title`: the title id the generation is for; names are checked against it, characters against theirs.
        """
        likeness, voice = self.index.find(text)
        checks: dict[tuple[str, str | None], str] = {}
        for m in likeness:
            checks.setdefault((m.performer, m.title or title), self._describe(m))
        out = self._decide(checks, "prompt", likeness)
        for m in voice:
            who = self.index.names[m.performer]
            out.reasons.append(f"{m.character} is voiced by {who} in {self.index.titles[m.title]}: a voice role, "
                               "not a likeness; the character alone is allowed")  # fmt: skip
        if not checks:
            out.reasons.insert(0, "prompt names no performer, alias or on-screen character of the catalog")
        return self._log(out, hashlib.sha256(text.encode()).hexdigest(), text, generation_id)

    def check_image(
        self, path: str | Path, *, title: str | None = None, generation_id: str | None = None
    ) -> GuardDecision:
        """Refuse a reference image showing a performer without consent, or a face that cannot be cleared."""
        data = Path(path).read_bytes()
        image = decode_image(data, str(path))
        out = self._faces([image], "image", "image", title)
        return self._log(out, hashlib.sha256(data).hexdigest(), Path(path).name, generation_id)

    def check_frames(
        self, frames: np.ndarray, *, title: str | None = None, generation_id: str | None = None
    ) -> GuardDecision:
        """After generation: the same face check on a few frames of (F, H, W, 3) uint8 RGB, evenly spaced."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be (F, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
        count = frames.shape[0]
        picks = sorted({round(k) for k in np.linspace(0, count - 1, min(self.sample_frames, count))})
        images = [cv2.cvtColor(np.ascontiguousarray(frames[k]), cv2.COLOR_RGB2BGR) for k in picks]
        label = f"output ({len(picks)} of {count} frames sampled)"
        out = self._faces(images, "output", label, title)
        digest = hashlib.sha256(str(frames.shape).encode() + np.ascontiguousarray(frames).tobytes()).hexdigest()
        return self._log(out, digest, f"{count} frames {frames.shape[2]}x{frames.shape[1]}", generation_id)

    def link(self, decision: GuardDecision, generation_id: str) -> None:
        """Attach a logged decision to the generation it cleared (once that record exists)."""
        self.session.get(LikenessCheck, decision.check_id).generation_id = generation_id
        self.session.flush()

    def _faces(self, images: list[np.ndarray], subject: str, label: str, title: str | None) -> GuardDecision:
        faces = [(img, box) for img in images for box in self.detector.detect(img)]
        if not faces:
            return GuardDecision(True, [f"{label}: no face detected"], subject=subject)
        n = f"{len(faces)} face{'s' if len(faces) > 1 else ''}"
        refs = self.references() if self.matcher is not None else []
        if not refs:
            why = "no face matcher is configured" if self.matcher is None else "no reference faces are registered"
            if self.unknown_faces == "refuse":
                reason = f"{label}: {n} detected and could not be cleared: {why} (unknown_faces='refuse')"
                return GuardDecision(False, [reason], subject=subject)
            reason = f"{label}: {n} detected, not compared with performers ({why}); allowed as unknown_faces='allow'"
            return GuardDecision(True, [reason], subject=subject)
        best: dict[str, Match] = {}
        for img, box in faces:
            for pid, score in self.matcher.match(box.crop(img), refs):
                if pid not in best or score > best[pid].score:
                    best[pid] = Match(f"face at {box.x},{box.y} {box.w}x{box.h}", pid, "face", score=float(score))
        if not best:
            people = len({r.performer_id for r in refs})
            return GuardDecision(True, [f"{label}: {n} detected; none matches the reference faces of {people} "
                                        "performers"], subject=subject)  # fmt: skip
        checks = {(pid, title): f"{label} shows {self.index.names.get(pid, pid)} (face match {m.score:.2f})"
                  for pid, m in best.items()}  # fmt: skip
        return self._decide(checks, subject, list(best.values()))

    def _decide(self, checks: dict[tuple[str, str | None], str], subject: str, matches: list[Match]) -> GuardDecision:
        """Ask the rights gate once per (performer, title); any refusal refuses the whole request."""
        if checks:
            self.session.flush()  # consents added in this session must be visible to the reload below
        reasons, basis, ok = [], [], True
        for (pid, title), what in checks.items():
            decision = self._consent(pid, title)
            reasons.append(f"{what}: {_strip_name(decision, self.index.names.get(pid, pid))}")
            ok &= decision.ok
            if decision.ok and decision.basis and decision.basis not in basis:
                basis.append(decision.basis)
        performers = list(dict.fromkeys(pid for pid, _ in checks))
        return GuardDecision(ok, reasons, performers, matches, basis if ok else [], subject)

    def _consent(self, performer_id: str, title: str | None) -> Decision:
        performer = self.session.get(Performer, performer_id)
        # Consents may have been added or revoked since the performer was loaded (another session, a CLI).
        self.session.expire(performer, ["consents"])
        return allowed(performer, self.kind, territory=self.territory, on=self.on, title=title, purpose="generate")

    def _describe(self, m: Match) -> str:
        name = self.index.names[m.performer]
        if m.character:
            what = f"prompt names {m.character}, played on screen by {name} in {self.index.titles[m.title]}"
            return what + (f" (as {m.text!r})" if fold(m.text) != fold(m.character) else "")
        return f"prompt names {name}" + (f" (as {m.text!r})" if fold(m.text) != fold(name) else "")

    def _log(self, out: GuardDecision, digest: str, detail: str, generation_id: str | None) -> GuardDecision:
        row = LikenessCheck(subject=out.subject, digest=digest, detail=detail, allowed=out.allowed,
                            reasons=out.reasons, performers=out.performers, tenant=self.tenant,
                            created_by=self.actor, generation_id=generation_id)  # fmt: skip
        self.session.add(row)
        self.session.flush()
        out.digest, out.check_id = digest, row.id
        return out


def _strip_name(decision: Decision, name: str) -> str:
    """The gate's reason without its leading 'Name: ', which the guard's own wording already carries."""
    prefix = f"{name}: "
    return decision.reason[len(prefix) :] if decision.reason.startswith(prefix) else decision.reason
