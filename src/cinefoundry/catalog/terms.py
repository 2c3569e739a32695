"""Validation of the terms that rights and consents are written in: territories, uses, dates, licences, ids."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable

import pycountry

TITLE_KINDS = ("feature", "short", "episode", "trailer", "element")  # element: effects shot on black
TITLE_USES = ("train", "generate", "reference")
CONSENT_KINDS = ("digital_replica", "digital_alteration", "synthetic_likeness", "training_use")
PERFORMANCES = ("on_screen", "voice")
REPRESENTATIONS = ("counsel", "union", "none")
WORLDWIDE = "WW"

# Licences under which a title may be trained on and generated from without a separate contract, provided
# the attribution is carried: CC BY (any version or port) and the CC0 dedication. NC, ND and SA variants
# carry conditions a studio model cannot meet automatically, so they need an explicit grant.
_OPEN_LICENCE = re.compile(r"^(CC-BY-\d\.\d(-[A-Z]{2,3})?|CC0-1\.0)$")
_EIDR = re.compile(r"^10\.5240/([0-9A-F]{4}-){5}[0-9A-Z]$")


def territory(code: str) -> str:
    """Normalise an ISO 3166-1 code (alpha-2 or alpha-3, any case) or WW to upper-case alpha-2 or WW."""
    raw = code.strip().upper()
    if raw in (WORLDWIDE, "WORLDWIDE", "WORLD"):
        return WORLDWIDE
    country = pycountry.countries.get(alpha_2=raw) if len(raw) == 2 else None
    if country is None and len(raw) == 3:
        country = pycountry.countries.get(alpha_3=raw)
    if country is None:
        raise ValueError(f"unknown territory {code!r}: use an ISO 3166-1 code such as FR or USA, or WW")
    return country.alpha_2


def territories(codes: Iterable[str]) -> list[str]:
    """Normalise a list of territory codes; WW may not be mixed with countries."""
    out = sorted({territory(c) for c in codes if c.strip()})
    if not out:
        raise ValueError("at least one territory is required (ISO 3166-1 codes or WW)")
    if WORLDWIDE in out and len(out) > 1:
        raise ValueError(f"WW (worldwide) already covers {', '.join(c for c in out if c != WORLDWIDE)}")
    return out


def use(value: str) -> str:
    """A title use: train, generate or reference."""
    v = value.strip().lower()
    if v not in TITLE_USES:
        raise ValueError(f"unknown use {value!r}: one of {', '.join(TITLE_USES)}")
    return v


def uses(values: Iterable[str]) -> list[str]:
    out = sorted({use(v) for v in values if v.strip()})
    if not out:
        raise ValueError(f"at least one use is required ({', '.join(TITLE_USES)})")
    return out


def consent_kind(value: str) -> str:
    v = value.strip().lower().replace("-", "_")
    if v not in CONSENT_KINDS:
        raise ValueError(f"unknown consent kind {value!r}: one of {', '.join(CONSENT_KINDS)}")
    return v


def date(value: str | dt.date | None) -> dt.date | None:
    """An ISO date (YYYY-MM-DD), or None for an open end."""
    if value is None or isinstance(value, dt.date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD)") from exc


def window(start: dt.date | None, end: dt.date | None) -> tuple[dt.date | None, dt.date | None]:
    if start and end and end < start:
        raise ValueError(f"window ends ({end}) before it starts ({start})")
    return start, end


def is_open_licence(licence: str | None) -> bool:
    """True for CC BY and CC0: licences that allow training and generation with attribution."""
    return bool(licence and _OPEN_LICENCE.match(licence.strip()))


def needs_attribution(licence: str | None) -> bool:
    return bool(licence and licence.strip().startswith("CC-BY-"))


def eidr(value: str | None) -> str | None:
    """An EIDR content id (10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C), upper-cased, or None."""
    if value is None or not value.strip():
        return None
    v = value.strip().upper()
    if not _EIDR.match(v):
        raise ValueError(f"not an EIDR id: {value!r} (expected 10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C)")
    return v


def sha256_hex(value: str) -> str:
    v = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", v):
        raise ValueError(f"not a sha256 hex digest: {value!r}")
    return v


def slug(text: str) -> str:
    """A stable id from a name: ASCII, lower case, words joined by '-' (underscores kept)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-")
    if not out:
        raise ValueError(f"cannot make an id from {text!r}")
    return out[:100]
