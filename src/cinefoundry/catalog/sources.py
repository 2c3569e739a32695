"""Read what to import: a folder of title folders (each with title.json), one title folder, or a manifest.

Readers only parse and validate; they never touch the database. Problems are returned per file (and per
manifest row) so that one bad title does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cinefoundry.catalog import terms
from cinefoundry.catalog.manifest import read_manifest
from cinefoundry.catalog.specs import (
    MediaSpec,
    SubtitleSpec,
    TitleIn,
    TitleSpec,
    describe_validation,
    film_offset,
    language_from_filename,
    open_licence_grant,
    read_json,
    resolve_uri,
)
from cinefoundry.core.errors import InputError

TITLE_FILE = "title.json"


@dataclass
class Discovery:
    """Titles found under a path, the problems found reading them, and folders that are not titles."""

    titles: list[TitleSpec] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Titles with an unreadable part (e.g. one bad manifest row), with its problems: none of them is imported.
    failed: dict[str, list[InputError]] = field(default_factory=dict)


def discover(path: str | Path) -> Discovery:
    """Find titles in `path`: a library folder, a title folder, a title.json, or a .csv/.json manifest."""
    p = Path(path).expanduser()
    found = Discovery()
    if not p.exists():
        found.errors.append(InputError(str(p), "not found"))
    elif p.is_dir() and (p / TITLE_FILE).exists():
        _read_folder(p, found)
    elif p.is_dir():
        for sub in sorted(x for x in p.iterdir() if x.is_dir() and not x.name.startswith(".")):
            if (sub / TITLE_FILE).exists():
                _read_folder(sub, found)
            else:
                found.skipped.append(f"{sub}: no {TITLE_FILE}, not a title folder")
        if not found.titles and not found.errors:
            found.errors.append(InputError(str(p), f"no title folders (folders with {TITLE_FILE}) inside"))
    elif p.name == TITLE_FILE:
        _read_folder(p.parent, found)
    elif p.suffix.lower() in (".csv", ".json"):
        found.titles, found.errors, found.failed = read_manifest(p)
    else:
        found.errors.append(InputError(str(p), "not a catalog: give a folder, a title.json, or a .csv/.json manifest"))
    return found


def _read_folder(folder: Path, found: Discovery) -> None:
    try:
        found.titles.append(read_title_folder(folder))
    except InputError as err:
        found.errors.append(err)


def read_title_folder(folder: Path) -> TitleSpec:
    """Parse and validate `folder/title.json` into a TitleSpec; raises InputError naming the problem."""
    src = folder / TITLE_FILE
    data = read_json(src)
    if not isinstance(data, dict):
        raise InputError(str(src), "must hold a JSON object describing one title")
    try:
        t = TitleIn.model_validate(data)
    except ValidationError as exc:
        raise InputError(str(src), describe_validation(exc)) from exc
    try:
        title_id = terms.slug(t.id or folder.name)
    except ValueError as exc:
        raise InputError(str(src), str(exc)) from exc
    spec = TitleSpec(
        id=title_id,
        name=t.title,
        kind=t.kind,
        source=str(src.resolve()),
        year=t.year,
        eidr_id=t.eidr_id,
        rights_holder=t.rights_holder,
        director=t.director,
        attribution=t.attribution,
        live_action=t.live_action,
        has_dialogue=t.has_dialogue,
        extra=_extra(t),
        media=[
            MediaSpec(
                resolve_uri(folder, f.file),
                f.role,
                f.sha256,
                f.decoded_frames,
                film_offset((f.model_extra or {}).get("film_time_range")),
            )
            for f in t.files
        ],
        subtitles=[
            SubtitleSpec(resolve_uri(folder, s.file), s.language or language_from_filename(s.file), s.timeline)
            for s in t.subtitles
        ],
        cast=list(t.cast),
        characters=list(t.characters),
        grants=list(t.grants),
    )
    if not spec.grants:
        auto = open_licence_grant(t.license, t.license_url)
        if auto is not None:
            spec.grants.append(auto)
        elif t.license:
            spec.warnings.append(
                f"licence {t.license!r} does not grant training by itself: no grant created; "
                "record the studio's rights with `cinefoundry rights grant`"
            )
        else:
            spec.warnings.append("no licence and no grants: the title cannot be used until a grant is recorded")
    return spec


def _extra(t: TitleIn) -> dict[str, Any]:
    """Fields of title.json that have no column of their own, kept for reference."""
    extra = dict(t.model_extra or {})
    if t.license:
        extra["license"] = t.license
    if t.license_url:
        extra["license_url"] = t.license_url
    return extra
