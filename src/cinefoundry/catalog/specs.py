"""What an import says about a title, validated: the pydantic input models and the resolved `TitleSpec`."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cinefoundry.catalog import terms
from cinefoundry.catalog.probe import is_url
from cinefoundry.catalog.terms import WORLDWIDE
from cinefoundry.core.errors import InputError

TitleKind = Literal["feature", "short", "episode", "trailer", "element"]
Performance = Literal["on_screen", "voice"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


class CreditIn(_In):
    """A performer credited in the title."""

    name: str = Field(min_length=1)
    role: str | None = None
    aliases: list[str] = []


class CharacterIn(_In):
    """A character and who plays it: on screen (likeness) or by voice only."""

    name: str = Field(min_length=1)
    performer: str | None = None
    performance: Performance = "on_screen"


class MediaIn(_In):
    """A media file of the title; `sha256` and `decoded_frames`, when given, are checked against measurement."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)

    file: str = Field(min_length=1)
    role: str = "primary"
    sha256: str | None = None
    decoded_frames: int | None = Field(default=None, ge=0)

    _sha = field_validator("sha256")(lambda v: terms.sha256_hex(v) if v else None)


class SubtitleIn(_In):
    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)

    file: str = Field(min_length=1)
    language: str | None = None
    timeline: str | None = None


class GrantIn(_In):
    """A rights grant on the title."""

    licence: str = Field(min_length=1, alias="license")
    uses: list[str]
    territories: list[str] = [WORLDWIDE]
    excluded_territories: list[str] = []
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    licence_url: str | None = Field(default=None, alias="license_url")
    restrictions: str | None = None
    attribution_required: bool | None = None

    _uses = field_validator("uses")(lambda v: terms.uses(v))
    _terr = field_validator("territories")(lambda v: terms.territories(v))
    _excl = field_validator("excluded_territories")(lambda v: sorted({terms.territory(c) for c in v}))

    @model_validator(mode="after")
    def _check(self) -> GrantIn:
        terms.window(self.window_start, self.window_end)
        if self.excluded_territories and self.territories != [WORLDWIDE]:
            raise ValueError("excluded_territories only make sense with a worldwide (WW) grant")
        if self.attribution_required is None:
            self.attribution_required = terms.needs_attribution(self.licence)
        return self


class TitleIn(_In):
    """A title as described by a `title.json` (the sample library's layout)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)

    id: str | None = None
    title: str = Field(min_length=1)
    year: int | None = Field(default=None, ge=1870, le=2200)
    kind: TitleKind
    eidr_id: str | None = None
    rights_holder: str | None = None
    director: str | None = None
    attribution: str | None = None
    license: str | None = Field(default=None, alias="licence")
    license_url: str | None = None
    live_action: bool | None = None
    has_dialogue: bool | None = None
    files: list[MediaIn] = Field(min_length=1)
    subtitles: list[SubtitleIn] = []
    cast: list[CreditIn] = []
    characters: list[CharacterIn] = []
    grants: list[GrantIn] = []

    _eidr = field_validator("eidr_id")(lambda v: terms.eidr(v))


@dataclass
class MediaSpec:
    uri: str
    role: str = "primary"
    expected_sha256: str | None = None
    expected_frames: int | None = None
    film_offset_s: float | None = None


@dataclass
class SubtitleSpec:
    uri: str
    language: str | None = None
    timeline: str | None = None


@dataclass
class TitleSpec:
    """Everything an import will write for one title, with file locations resolved."""

    id: str
    name: str
    kind: str
    source: str
    year: int | None = None
    eidr_id: str | None = None
    rights_holder: str | None = None
    director: str | None = None
    attribution: str | None = None
    live_action: bool | None = None
    has_dialogue: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    media: list[MediaSpec] = field(default_factory=list)
    subtitles: list[SubtitleSpec] = field(default_factory=list)
    cast: list[CreditIn] = field(default_factory=list)
    characters: list[CharacterIn] = field(default_factory=list)
    grants: list[GrantIn] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def open_licence_grant(licence: str | None, licence_url: str | None) -> GrantIn | None:
    """The worldwide, open-ended train+generate grant that a CC BY or CC0 licence gives, else None."""
    if not terms.is_open_licence(licence):
        return None
    return GrantIn(licence=licence, uses=["train", "generate"], licence_url=licence_url)


def film_offset(time_range: object) -> float | None:
    """Start of a file in the full title: `00:00:40-00:00:50 (...)` -> 40.0; None when not a timecode."""
    m = re.match(r"\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", str(time_range or ""))
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None


def language_from_filename(name: str) -> str | None:
    """`film.en.srt` -> `en`; `film.pt-BR.vtt` -> `pt-BR`."""
    m = re.search(r"\.([a-z]{2,3}(?:[-_][A-Za-z]{2,4})?)\.(srt|vtt|ass|ssa)$", name)
    return m.group(1).replace("_", "-") if m else None


def read_json(path: Path) -> Any:
    """Parse a JSON file; an InputError names the file and where the JSON breaks."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "not UTF-8 text") from exc


def describe_validation(err: ValidationError) -> str:
    """One line per problem, each naming the field: `files[0].file: Field required`."""
    parts = []
    for e in err.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def resolve_uri(base: Path, ref: str) -> str:
    """A file reference from a catalog file: URLs stay, relative paths become absolute from `base`."""
    if is_url(ref):
        return ref
    local = Path(ref.removeprefix("file://")).expanduser()
    return str(local if local.is_absolute() else (base / local).resolve())
