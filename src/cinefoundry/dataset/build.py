"""`dataset build` and `dataset remove-title`: freeze immutable, content-hashed dataset versions.

A version pins the clip catalog's Lance version and records its settings (size, frames, fps, filters,
caption column). Before freezing, every title is asked again of the rights gate on the build date; the
titles left out, and why, are recorded with the version. Filters act on the stored scores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cinefoundry.catalog.models import Title
from cinefoundry.catalog.policy import allowed, today
from cinefoundry.catalog.queries import find_title
from cinefoundry.core.errors import CinefoundryError, NotFoundError
from cinefoundry.core.store import ObjectStore
from cinefoundry.dataset.models import DatasetExclusion, DatasetTitle, DatasetVersion
from cinefoundry.ingest.catalog import DEFAULT_CAPTION, ClipCatalog
from cinefoundry.ingest.config import FilterConfig
from cinefoundry.ingest.filters import verdicts
from cinefoundry.ingest.run import VERDICT_COLUMNS

SessionFactory = Callable[[str], AbstractContextManager[Session]]
RemovalHook = Callable[[Session, str, str], list[dict[str, Any]]]  # (session, title id, note) -> what it marked
MANIFEST_COLUMNS = ["clip_id", "title_id", "grant_id", "media_file_id", "start_s", "end_s", "frames", "fps",
                    "width", "height", "video_sha256"]  # fmt: skip


@dataclass(frozen=True)
class BuildSettings:
    """What a dataset version is for: training samples of `frames` frames at `fps`, `width`x`height`."""

    width: int = 64
    height: int = 64
    frames: int = 17
    fps: int = 8
    filters: FilterConfig = field(default_factory=FilterConfig)
    caption: str = DEFAULT_CAPTION
    titles: tuple[str, ...] = ()  # empty: every title with clips

    def __post_init__(self) -> None:
        if self.width % 16 or self.height % 16 or min(self.width, self.height) < 16:
            raise ValueError(f"size {self.width}x{self.height}: width and height must be multiples of 16")
        if self.frames % 4 != 1:
            raise ValueError(f"frames {self.frames}: must be 4k+1 (17, 33, 49, 81), as video VAEs expect")
        if self.fps < 1:
            raise ValueError("fps must be at least 1")

    @property
    def span_s(self) -> float:
        """Seconds from the first to the last frame of one training sample."""
        return (self.frames - 1) / self.fps

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"titles": list(self.titles)}


def parse_size(text: str) -> tuple[int, int]:
    """`64x64` -> (64, 64)."""
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError as exc:
        raise ValueError(f"size {text!r}: use WIDTHxHEIGHT, e.g. 64x64") from exc
    return w, h


@dataclass
class BuildResult:
    version: dict[str, Any]
    created: bool
    titles: list[dict[str, Any]]
    exclusions: list[dict[str, str]]
    rejected: dict[str, int]  # clips left out by reason kind
    affected_models: list[dict[str, Any]] = field(default_factory=list)  # remove-title: models marked affected


def build_dataset(
    session: SessionFactory,
    catalog: ClipCatalog,
    store: ObjectStore,
    name: str,
    settings: BuildSettings,
    actor: str,
    on: dt.date | None = None,
) -> BuildResult:
    """Freeze a new version of `name` from the current clip catalog (or return the latest if identical)."""
    built_on = on or today()
    pinned = catalog.version
    if pinned == 0:
        raise CinefoundryError("the clip catalog is empty: run `cinefoundry ingest` first")
    columns = sorted(set(VERDICT_COLUMNS + MANIFEST_COLUMNS + [settings.caption]))
    _check_caption(catalog, settings.caption)
    rows = catalog.rows(columns=columns, version=pinned)
    with session("dataset.build") as s:
        titles = _titles_in_scope(s, rows, settings.titles)
        allowed_titles, exclusions = {}, {}
        for title in titles:
            decision = allowed(title, "train", on=built_on)
            if decision.ok:
                allowed_titles[title.id] = (title, int(decision.basis.split(":")[1]))
            else:
                exclusions[title.id] = f"rights gate on {built_on}: {decision.reason}"
        candidates = [r for r in rows if r["title_id"] in allowed_titles]
        members, rejected = _select(candidates, settings)
        with_clips = {m["title_id"] for m in members}
        for title_id in set(allowed_titles) - with_clips:
            exclusions[title_id] = "no clip passed the filters and the sample length and size"
        return _freeze(s, store, name, settings, actor, built_on, pinned, members, allowed_titles, exclusions, rejected)


def remove_title(
    session: SessionFactory,
    store: ObjectStore,
    name: str,
    title_ref: str,
    reason: str,
    actor: str,
    on_removed: RemovalHook | None = None,
) -> tuple[BuildResult, list[dict[str, Any]]]:
    """A new version of `name` without one title; returns it and every dataset version that contained it.

    `on_removed(session, title_id, note)` runs in the same transaction and returns what it marked: the CLI
    passes the registry's, so every model that relied on the title is marked affected
    (`result.affected_models`; nothing is deleted). A hook, because the registry is a later stage.
    """
    if not reason.strip():
        raise CinefoundryError("removing a title needs a reason (licence ended, takedown, ...)")
    with session("dataset.remove_title") as s:
        title = find_title(s, title_ref)
        parent = latest_version(s, name)
        members = [m for m in read_manifest(store, parent.manifest_sha256) if m["title_id"] != title.id]
        if len(members) == parent.clips:
            raise CinefoundryError(f"{parent.label} does not contain {title.id}")
        kept = {t.title_id: (s.get(Title, t.title_id), t.grant_id) for t in parent.titles if t.title_id != title.id}
        exclusions = {e.title_id: e.reason for e in parent.exclusions} | {title.id: f"removed: {reason.strip()}"}
        settings = _settings_from(parent.settings)
        result = _freeze(
            s, store, name, settings, actor, parent.built_on, parent.catalog_version, members, kept, exclusions,
            {}, parent=parent, note=f"removed {title.id}: {reason.strip()}",
        )  # fmt: skip
        affected = [
            v.as_dict()
            for v in s.scalars(
                select(DatasetVersion)
                .join(DatasetTitle, DatasetTitle.version_id == DatasetVersion.id)
                .where(DatasetTitle.title_id == title.id)
                .order_by(DatasetVersion.name, DatasetVersion.number)
            )
        ]
        note = f"{title.id} removed from {parent.name} (new version {result.version['label']}): {reason.strip()}"
        result.affected_models = on_removed(s, title.id, note) if on_removed else []
    return result, affected


def latest_version(s: Session, name: str) -> DatasetVersion:
    """The newest version of dataset `name` (`name@vN` picks version N)."""
    base, _, number = name.partition("@v")
    query = select(DatasetVersion).where(DatasetVersion.name == base)
    query = query.where(DatasetVersion.number == int(number)) if number else query
    version = s.scalars(query.order_by(DatasetVersion.number.desc())).first()
    if version is None:
        raise NotFoundError(f"no dataset {name!r}: build one with `cinefoundry dataset build {base}`")
    return version


def read_manifest(store: ObjectStore, sha256: str) -> list[dict[str, Any]]:
    """The clips of a dataset version (sorted by clip id), from its Parquet manifest."""
    with store.open(sha256) as f:
        return pq.read_table(io.BytesIO(f.read())).to_pylist()


def _check_caption(catalog: ClipCatalog, caption: str) -> None:
    names = catalog.dataset().schema.names
    if caption not in names:
        captions = [c for c in names if c.startswith("caption_")]
        raise CinefoundryError(f"no caption column {caption!r} in the clip catalog (has: {', '.join(captions)})")


def _titles_in_scope(s: Session, rows: list[dict], refs: tuple[str, ...]) -> list[Title]:
    if refs:
        return [find_title(s, r) for r in refs]
    ids = sorted({r["title_id"] for r in rows})
    return [s.get(Title, i) for i in ids]


def _select(rows: list[dict], settings: BuildSettings) -> tuple[list[dict], dict[str, int]]:
    """Clips that pass the filters and can give samples of the asked length and size."""
    reasons = verdicts(rows, settings.filters)
    members, rejected = [], {}
    for r in rows:
        why = [x.split(":", 1)[0] for x in reasons[r["clip_id"]]]
        if (r["frames"] - 1) / r["fps"] < settings.span_s:
            why.append("shorter_than_sample")
        if r["width"] < settings.width or r["height"] < settings.height:
            why.append("smaller_than_sample")
        if not r.get(settings.caption):
            why.append("no_caption")
        for kind in why:
            rejected[kind] = rejected.get(kind, 0) + 1
        if not why:
            members.append({k: r[k] for k in MANIFEST_COLUMNS} | {"caption": r[settings.caption]})
    return sorted(members, key=lambda m: m["clip_id"]), dict(sorted(rejected.items()))


def _freeze(
    s: Session,
    store: ObjectStore,
    name: str,
    settings: BuildSettings,
    actor: str,
    built_on: dt.date,
    pinned: int,
    members: list[dict],
    titles: dict[str, tuple[Title, int]],
    exclusions: dict[str, str],
    rejected: dict[str, int],
    parent: DatasetVersion | None = None,
    note: str | None = None,
) -> BuildResult:
    if not members:
        raise CinefoundryError(
            f"dataset {name!r} would have no clips" + (f" (left out: {rejected})" if rejected else "")
        )
    content = {"settings": settings.as_dict(), "clips": [(m["clip_id"], m["video_sha256"]) for m in members]}
    content_hash = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    last = s.scalars(
        select(DatasetVersion).where(DatasetVersion.name == name).order_by(DatasetVersion.number.desc())
    ).first()
    per_title = _per_title(members)
    if last is not None and last.content_hash == content_hash:
        return BuildResult(last.as_dict(), False, per_title, _exclusion_list(exclusions), rejected)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(members), buffer)
    manifest = store.put_bytes(buffer.getvalue())
    number = (s.scalar(select(func.max(DatasetVersion.number)).where(DatasetVersion.name == name)) or 0) + 1
    version = DatasetVersion(
        name=name,
        number=number,
        content_hash=content_hash,
        catalog_version=pinned,
        settings=settings.as_dict(),
        clips=len(members),
        seconds=round(sum(m["end_s"] - m["start_s"] for m in members), 3),
        manifest_sha256=manifest.sha256,
        built_on=built_on,
        parent_id=parent.id if parent else (last.id if last else None),
        note=note,
        created_by=actor,
    )
    s.add(version)
    s.flush()
    for row in per_title:
        title, grant_id = titles[row["title_id"]]
        grant = next(g for g in title.grants if g.id == grant_id)
        s.add(DatasetTitle(version_id=version.id, title_id=title.id, grant_id=grant_id, licence=grant.licence,
                           attribution=title.attribution, clips=row["clips"], seconds=row["seconds"]))  # fmt: skip
    for title_id, reason in exclusions.items():
        s.add(DatasetExclusion(version_id=version.id, title_id=title_id, reason=reason))
    s.flush()
    return BuildResult(version.as_dict(), True, per_title, _exclusion_list(exclusions), rejected)


def _per_title(members: list[dict]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m in members:
        row = out.setdefault(m["title_id"], {"title_id": m["title_id"], "clips": 0, "seconds": 0.0})
        row["clips"] += 1
        row["seconds"] = round(row["seconds"] + m["end_s"] - m["start_s"], 3)
    return [out[k] for k in sorted(out)]


def _exclusion_list(exclusions: dict[str, str]) -> list[dict[str, str]]:
    return [{"title_id": k, "reason": v} for k, v in sorted(exclusions.items())]


def _settings_from(saved: dict[str, Any]) -> BuildSettings:
    return BuildSettings(
        width=saved["width"],
        height=saved["height"],
        frames=saved["frames"],
        fps=saved["fps"],
        filters=FilterConfig(**saved["filters"]),
        caption=saved["caption"],
        titles=tuple(saved["titles"]),
    )
