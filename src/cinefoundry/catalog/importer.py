"""`catalog import`: measure every file, then write each title in its own transaction.

Importing the same catalog again changes nothing. A media file whose content changed since it was recorded
is reported, never silently replaced. A title with any problem is not written at all, and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cinefoundry.catalog.measure import Job, Measured, measure_all
from cinefoundry.catalog.models import CastCredit, Character, Grant, MediaFile, Subtitle, Title
from cinefoundry.catalog.rights import add_grant
from cinefoundry.catalog.sources import discover
from cinefoundry.catalog.specs import GrantIn, TitleSpec
from cinefoundry.catalog.talent import performer_for
from cinefoundry.core.errors import InputError
from cinefoundry.core.progress import SILENT, Reporter

SessionFactory = Callable[[str], AbstractContextManager[Session]]
TITLE_COLUMNS = ("name", "kind", "year", "eidr_id", "rights_holder", "director", "attribution", "live_action",
                 "has_dialogue", "extra", "source")  # fmt: skip


@dataclass
class TitleOutcome:
    """What happened to one title: created, updated, unchanged or failed, and why."""

    id: str
    name: str
    status: str = "unchanged"
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ImportReport:
    """The result of one import: per-title outcomes, every problem, and folders that were not titles."""

    path: str
    titles: list[TitleOutcome] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("created", "updated", "unchanged", "failed")}
        for t in self.titles:
            out[t.status] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "counts": self.counts(),
            "titles": [t.__dict__ for t in self.titles],
            "errors": self.errors,
            "skipped": self.skipped,
        }


def import_catalog(
    path: str | Path,
    session: SessionFactory,
    actor: str,
    probe_mode: str = "full",
    workers: int = 1,
    reporter: Reporter = SILENT,
) -> ImportReport:
    """Import the titles found at `path`; each title commits on its own, so one bad title spoils nothing."""
    found = discover(path)
    report = ImportReport(path=str(path), skipped=found.skipped)
    report.errors += [_problem(e) for e in found.errors]
    for title_id, errs in sorted(found.failed.items()):
        report.titles.append(TitleOutcome(title_id, title_id, "failed", errors=[_problem(e) for e in errs]))
        report.errors += [_problem(e) for e in errs]
    if not found.titles:
        return report
    with session("catalog.import") as s:
        known = _known_media(s, [t.id for t in found.titles])
    jobs = [Job(m.uri, "media", frozenset(known.get(t.id, ())), probe_mode) for t in found.titles for m in t.media]
    jobs += [Job(sub.uri, "subtitle") for t in found.titles for sub in t.subtitles]
    measured = measure_all(_unique(jobs), workers, reporter)
    for spec in found.titles:
        outcome = TitleOutcome(spec.id, spec.name, warnings=list(spec.warnings))
        report.titles.append(outcome)
        outcome.errors = _preflight(spec, measured)
        if not outcome.errors:
            try:
                with session("catalog.import") as s:
                    _write_title(s, spec, measured, actor, outcome)
            except _TitleRejected:
                pass  # rolled back; the reasons are in outcome.errors
            except SQLAlchemyError as exc:
                outcome.errors.append({"source": spec.source, "problem": f"database refused the title: {exc.orig!r}"})
        if outcome.errors:
            outcome.status, outcome.changes = "failed", []
            report.errors += outcome.errors
    return report


def _problem(err: InputError) -> dict[str, str]:
    return {"source": err.source, "problem": err.problem}


def _known_media(s: Session, title_ids: list[str]) -> dict[str, set[str]]:
    known: dict[str, set[str]] = {}
    for title_id, sha in s.execute(
        select(MediaFile.title_id, MediaFile.sha256).where(MediaFile.title_id.in_(title_ids))
    ):
        known.setdefault(title_id, set()).add(sha)
    return known


def _unique(jobs: list[Job]) -> list[Job]:
    """One job per file; a file in several titles is decoded unless every one of them already has it."""
    seen: dict[str, Job] = {}
    for job in jobs:
        first = seen.setdefault(job.uri, job)
        if first is not job:
            seen[job.uri] = replace(first, known=first.known & job.known)
    return list(seen.values())


def _preflight(spec: TitleSpec, measured: dict[str, Measured]) -> list[dict[str, str]]:
    """Every problem that must stop this title, found before anything is written."""
    errors = []
    for m in spec.media:
        got = measured[m.uri]
        if got.error:
            errors.append({"source": m.uri, "problem": got.error})
        elif m.expected_sha256 and got.sha256 != m.expected_sha256:
            errors.append(
                {
                    "source": m.uri,
                    "problem": f"sha256 is {got.sha256}, but {spec.source} says {m.expected_sha256}: "
                    "the file is not the one the catalog describes",
                }
            )
    for sub in spec.subtitles:
        if measured[sub.uri].error:
            errors.append({"source": sub.uri, "problem": measured[sub.uri].error or ""})
    return errors


def _write_title(s: Session, spec: TitleSpec, measured: dict[str, Measured], actor: str, out: TitleOutcome) -> None:
    title = s.get(Title, spec.id)
    if title is None:
        title = Title(id=spec.id, extra={})
        s.add(title)
        out.status = "created"
        out.changes.append(f"title {spec.id} created")
    for column in TITLE_COLUMNS:
        _set(title, column, getattr(spec, column), out, created=out.status == "created")
    s.flush()
    _write_media(s, title, spec, measured, out)
    _write_subtitles(s, title, spec, measured, out)
    _write_people(s, title, spec, out)
    _write_grants(s, title, spec.grants, spec.source, actor, out)
    if out.status != "created" and out.changes:
        out.status = "updated"


def _set(obj: Any, column: str, value: Any, out: TitleOutcome, created: bool = False) -> None:
    """Assign only real changes, so an unchanged re-import leaves no audit entry behind."""
    old = getattr(obj, column)
    if (value is None and column != "extra") or old == value:
        return
    setattr(obj, column, value)
    if not created:
        out.changes.append(f"{type(obj).__name__.lower()} {column}: {old!r} -> {value!r}")


def _write_media(s: Session, title: Title, spec: TitleSpec, measured: dict[str, Measured], out: TitleOutcome) -> None:
    by_sha = {m.sha256: m for m in title.media_files}
    by_uri = {m.uri: m for m in title.media_files}
    seen: set[str] = set()
    for m in spec.media:
        got = measured[m.uri]
        sha = got.sha256 or ""
        if sha in seen:
            out.warnings.append(f"{m.uri}: same content as another file of this title; recorded once")
            continue
        seen.add(sha)
        record = by_sha.get(sha)
        if record is None and m.uri in by_uri:
            old = by_uri[m.uri]
            out.errors.append(
                {
                    "source": m.uri,
                    "problem": f"changed since it was recorded: sha256 was {old.sha256}, now {sha}; "
                    "not replaced (restore the original, or register the new file under another name)",
                }
            )
            continue
        if record is not None:
            if record.uri != m.uri:
                out.changes.append(f"media {sha[:12]} moved: {record.uri} -> {m.uri}")
                record.uri = m.uri
            _set(record, "role", m.role, out)
            _set(record, "film_offset_s", m.film_offset_s, out)
            continue
        probe = got.probe or {}
        s.add(
            MediaFile(
                title=title, uri=m.uri, role=m.role, sha256=sha, bytes=got.size, film_offset_s=m.film_offset_s, **probe
            )
        )
        out.changes.append(f"media {Path(m.uri).name}: {probe['frame_count']} frames measured")
        if m.expected_frames is not None and m.expected_frames != probe["frame_count"]:
            out.warnings.append(
                f"{m.uri}: the catalog says {m.expected_frames} frames, decoding gave {probe['frame_count']} "
                "(the measured count is recorded)"
            )
    if out.errors:
        raise _TitleRejected()
    for uri, record in by_uri.items():
        if record.sha256 not in seen:
            out.warnings.append(f"{uri}: recorded earlier but not in this import; kept")


class _TitleRejected(Exception):
    """Raised inside a title's transaction to roll it back; the reasons are already in the outcome."""


def _write_subtitles(
    s: Session, title: Title, spec: TitleSpec, measured: dict[str, Measured], out: TitleOutcome
) -> None:
    by_sha = {sub.sha256: sub for sub in title.subtitles}
    for sub in spec.subtitles:
        got = measured[sub.uri]
        record = by_sha.get(got.sha256 or "")
        if record is None:
            record = Subtitle(
                title=title,
                uri=sub.uri,
                language=sub.language,
                format=got.format or "",
                sha256=got.sha256,
                cue_count=got.cues,
                timeline=sub.timeline,
            )
            s.add(record)
            by_sha[record.sha256] = record
            out.changes.append(f"subtitles {Path(sub.uri).name}: {got.cues} cues")
        else:
            for column, value in (("uri", sub.uri), ("language", sub.language), ("timeline", sub.timeline)):
                _set(record, column, value, out)


def _write_people(s: Session, title: Title, spec: TitleSpec, out: TitleOutcome) -> None:
    credits = {c.performer_id: c for c in title.credits}
    for billing, credit in enumerate(spec.cast):
        performer, created = performer_for(s, credit.name, credit.aliases)
        if created:
            out.changes.append(f"performer {performer.name} added")
        record = credits.get(performer.id)
        if record is None:
            record = CastCredit(title=title, performer=performer, role=credit.role, billing=billing)
            s.add(record)
            credits[performer.id] = record
            out.changes.append(f"credit {performer.name} in {title.id}")
        else:
            _set(record, "role", credit.role, out)
    existing = {(c.name, c.performer_id): c for c in title.characters}
    for ch in spec.characters:
        performer = None
        if ch.performer:
            performer, created = performer_for(s, ch.performer)
            if created:
                out.changes.append(f"performer {performer.name} added (plays {ch.name})")
        key = (ch.name, performer.id if performer else None)
        record = existing.get(key)
        if record is None:
            s.add(Character(title=title, name=ch.name, performer=performer, performance=ch.performance))
            out.changes.append(f"character {ch.name} ({ch.performance})")
        else:
            _set(record, "performance", ch.performance, out)


def _grant_terms(g: Grant | GrantIn) -> tuple:
    """The terms that make two grants the same grant (how a re-import recognises what it already wrote)."""
    return (
        g.licence,
        tuple(sorted(g.uses)),
        tuple(sorted(g.territories)),
        tuple(sorted(g.excluded_territories or [])),
        g.window_start,
        g.window_end,
        g.restrictions or None,
    )


def _write_grants(s: Session, title: Title, grants: list[GrantIn], source: str, actor: str, out: TitleOutcome) -> None:
    """Add grants not yet recorded with the same terms; a revoked grant is never re-created by an import."""
    existing = {_grant_terms(g): g for g in title.grants}
    for g in grants:
        match = existing.get(_grant_terms(g))
        if match is not None:
            if match.revoked_at is not None:
                out.warnings.append(
                    f"grant #{match.id} ({match.licence}) was revoked on {match.revoked_at:%Y-%m-%d}; "
                    "the import does not grant it again"
                )
            continue
        record = add_grant(s, title, g, actor, source)
        existing[_grant_terms(g)] = record
        out.changes.append(f"grant {g.licence}: {'+'.join(g.uses)} in {', '.join(g.territories)}")
