"""Read a CSV or JSON manifest: one row per media file, with title, rights and cast columns.

Multi-valued columns use a compact syntax in CSV (JSON may use lists and objects instead):
  uses `train;generate` - territories `US;CA` - cast `Name[:credit]; ...` - aliases `Name=alias|alias; ...`
  characters `Character=Performer[:on_screen|voice]; ...` - subtitles `[lang=]path; ...`
Rows of one title must agree on its title-level columns; a title with any bad row is not imported.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from cinefoundry.catalog import terms
from cinefoundry.catalog.specs import (
    CharacterIn,
    CreditIn,
    GrantIn,
    MediaSpec,
    SubtitleIn,
    SubtitleSpec,
    TitleKind,
    TitleSpec,
    _In,
    describe_validation,
    language_from_filename,
    open_licence_grant,
    read_json,
    resolve_uri,
)
from cinefoundry.core.errors import InputError

TITLE_FIELDS = (
    "title",
    "year",
    "kind",
    "eidr_id",
    "rights_holder",
    "director",
    "attribution",
    "live_action",
    "has_dialogue",
)
GRANT_FIELDS = (
    "licence",
    "licence_url",
    "uses",
    "territories",
    "excluded_territories",
    "window_start",
    "window_end",
    "restrictions",
    "attribution_required",
)
_LANG = re.compile(r"^[a-z]{2,3}([-_][A-Za-z]{2,4})?$")


def _split(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;\n]", value) if part.strip()]


class ManifestRow(_In):
    """One manifest row: a media file and the title, rights and cast it belongs to."""

    model_config = _In.model_config | {"extra": "ignore"}

    title_id: str | None = None
    title: str | None = None
    year: int | None = Field(default=None, ge=1870, le=2200)
    kind: TitleKind | None = None
    eidr_id: str | None = None
    rights_holder: str | None = None
    director: str | None = None
    attribution: str | None = None
    live_action: bool | None = None
    has_dialogue: bool | None = None
    media: str = Field(min_length=1)
    media_role: str = "primary"
    sha256: str | None = None
    frames: int | None = Field(default=None, ge=0)
    film_offset_s: float | None = Field(default=None, ge=0)
    licence: str | None = Field(default=None, alias="license")
    licence_url: str | None = Field(default=None, alias="license_url")
    uses: list[str] = []
    territories: list[str] = []
    excluded_territories: list[str] = []
    window_start: str | None = None
    window_end: str | None = None
    restrictions: str | None = None
    attribution_required: bool | None = None
    cast: list[CreditIn] = []
    aliases: dict[str, list[str]] = {}
    characters: list[CharacterIn] = []
    subtitles: list[SubtitleIn] = []

    @model_validator(mode="before")
    @classmethod
    def _blank_is_missing(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip()) and v is not None}
        return data

    @model_validator(mode="after")
    def _needs_title(self) -> ManifestRow:
        if not (self.title or self.title_id):
            raise ValueError("each row needs a title (or a title_id of a title named on another row)")
        return self

    _eidr = field_validator("eidr_id")(lambda v: terms.eidr(v))
    _sha = field_validator("sha256")(lambda v: terms.sha256_hex(v) if v else None)

    @field_validator("uses", "territories", "excluded_territories", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        return [p for p in re.split(r"[;,\s]+", v) if p] if isinstance(v, str) else v

    @field_validator("cast", mode="before")
    @classmethod
    def _cast(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        return [
            dict(zip(("name", "role"), (p.strip() for p in item.split(":", 1)), strict=False)) for item in _split(v)
        ]

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        out: dict[str, list[str]] = {}
        for item in _split(v):
            if "=" not in item:
                raise ValueError(f"aliases item {item!r} must read Performer=alias|alias")
            name, rest = item.split("=", 1)
            out.setdefault(name.strip(), []).extend(a.strip() for a in rest.split("|") if a.strip())
        return out

    @field_validator("characters", mode="before")
    @classmethod
    def _characters(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        out = []
        for item in _split(v):
            name, _, who = item.partition("=")
            performer, _, performance = who.partition(":")
            row = {"name": name.strip(), "performer": performer.strip() or None}
            if performance.strip():
                row["performance"] = performance.strip()
            out.append(row)
        return out

    @field_validator("subtitles", mode="before")
    @classmethod
    def _subtitles(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        out = []
        for item in _split(v):
            lang, sep, path = item.partition("=")
            if sep and _LANG.match(lang.strip()):
                out.append({"file": path.strip(), "language": lang.strip()})
            else:
                out.append({"file": item})
        return out


def read_manifest(path: Path) -> tuple[list[TitleSpec], list[InputError], dict[str, list[InputError]]]:
    """Titles in a CSV or JSON manifest; problems not tied to a title; titles that must not import, with why."""
    try:
        rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _json_rows(path)
    except InputError as err:
        return [], [err], {}
    groups: dict[str, list[tuple[str, ManifestRow]]] = {}
    failed: dict[str, list[InputError]] = {}
    loose: list[InputError] = []
    for where, raw in rows:
        key = _title_key(raw)
        try:
            row = ManifestRow.model_validate(raw)
        except ValidationError as exc:
            err = InputError(where, describe_validation(exc))
            if key:
                failed.setdefault(key, []).append(err)
            else:
                loose.append(err)
            continue
        groups.setdefault(key or "", []).append((where, row))
    titles = []
    for key, group in groups.items():
        try:
            titles.append(_title_spec(path, key, group))
        except InputError as err:
            failed.setdefault(key, []).append(err)
    return [t for t in titles if t.id not in failed], loose, failed


def _title_key(raw: dict[str, Any]) -> str | None:
    for name in ("title_id", "title"):
        value = raw.get(name)
        if isinstance(value, str) and value.strip():
            try:
                return terms.slug(value)
            except ValueError:
                return None
    return None


def _title_spec(path: Path, key: str, group: list[tuple[str, ManifestRow]]) -> TitleSpec:
    """Merge the rows of one title; two rows that disagree on a title-level value are an error."""
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for where, row in group:
        for name in TITLE_FIELDS + GRANT_FIELDS:
            value = getattr(row, name)
            if value in (None, []):
                continue
            if name in merged and merged[name] != value:
                raise InputError(
                    where, f"{name} is {value!r} here but {merged[name]!r} in {origin[name]} (same title {key!r})"
                )
            merged.setdefault(name, value)
            origin.setdefault(name, where)
    first = group[0][0]
    if "title" not in merged:
        raise InputError(first, f"title {key!r} has no row with its title (name)")
    if "kind" not in merged:
        raise InputError(first, f"title {key!r} has no kind: give feature, short, episode or trailer on a row")
    base = path.parent
    spec = TitleSpec(
        id=key,
        name=merged["title"],
        kind=merged["kind"],
        source=str(path.resolve()),
        **{k: merged.get(k) for k in TITLE_FIELDS if k not in ("title", "kind")},
    )
    for _, row in group:
        spec.media.append(
            MediaSpec(resolve_uri(base, row.media), row.media_role, row.sha256, row.frames, row.film_offset_s)
        )
        for s in row.subtitles:
            uri = resolve_uri(base, s.file)
            if all(x.uri != uri for x in spec.subtitles):
                spec.subtitles.append(SubtitleSpec(uri, s.language or language_from_filename(s.file), s.timeline))
        _merge_people(spec, row)
    _add_grant(spec, merged, first)
    return spec


def _merge_people(spec: TitleSpec, row: ManifestRow) -> None:
    names = {c.name for c in spec.cast}
    for credit in row.cast:
        if credit.name not in names:
            spec.cast.append(credit)
            names.add(credit.name)
    for name, aliases in row.aliases.items():
        credit = next((c for c in spec.cast if c.name == name), None)
        if credit is None:
            credit = CreditIn(name=name)
            spec.cast.append(credit)
        credit.aliases = sorted(set(credit.aliases) | set(aliases))
    seen = {(c.name, c.performer) for c in spec.characters}
    for ch in row.characters:
        if (ch.name, ch.performer) not in seen:
            spec.characters.append(ch)
            seen.add((ch.name, ch.performer))


def _add_grant(spec: TitleSpec, merged: dict[str, Any], where: str) -> None:
    licence = merged.get("licence")
    if merged.get("uses"):
        if not licence:
            raise InputError(where, "uses are given without a licence (SPDX id or contract reference)")
        fields = {k: merged[k] for k in GRANT_FIELDS if k in merged}
        try:
            spec.grants.append(GrantIn.model_validate(fields))
        except ValidationError as exc:
            raise InputError(where, describe_validation(exc)) from exc
    elif licence:
        auto = open_licence_grant(licence, merged.get("licence_url"))
        if auto is None:
            spec.warnings.append(f"licence {licence!r} given without uses: no grant created")
        else:
            spec.grants.append(auto)


def _csv_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            rows = [(f"{path} line {reader.line_num}", dict(row)) for row in reader]
            header = reader.fieldnames or []
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "not UTF-8 text") from exc
    except csv.Error as exc:
        raise InputError(str(path), f"malformed CSV: {exc}") from exc
    if "media" not in header:
        raise InputError(str(path), f"no 'media' column (columns: {', '.join(header) or 'none'})")
    if not rows:
        raise InputError(str(path), "no rows")
    for where, row in rows:
        if None in row:  # more cells than header columns
            raise InputError(where, "more cells than the header has columns")
    return rows


def _json_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    data = read_json(path)
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not rows:
        raise InputError(str(path), 'expected a non-empty list of rows, or {"rows": [...]}')
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError(f"{path} rows[{i}]", "each row must be a JSON object")
        out.append((f"{path} rows[{i}]", row))
    return out
