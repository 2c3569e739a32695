"""Rights vocabulary: territories, uses, dates, licences, EIDR ids."""

import datetime as dt

import pytest

from cinefoundry.catalog import terms


@pytest.mark.parametrize(("code", "expected"), [("fr", "FR"), ("FRA", "FR"), ("usa", "US"), ("ww", "WW")])
def test_territory_normalises_iso_codes(code: str, expected: str) -> None:
    assert terms.territory(code) == expected


def test_territory_rejects_unknown_code() -> None:
    with pytest.raises(ValueError, match=r"unknown territory 'ZZ'"):
        terms.territory("ZZ")


def test_worldwide_cannot_be_mixed_with_countries() -> None:
    with pytest.raises(ValueError, match=r"WW .* already covers FR"):
        terms.territories(["WW", "FR"])
    assert terms.territories(["fr", "DEU", "FR"]) == ["DE", "FR"]


def test_uses_and_consent_kinds() -> None:
    assert terms.uses(["Generate", "train", "train"]) == ["generate", "train"]
    with pytest.raises(ValueError, match="unknown use 'fly'"):
        terms.use("fly")
    assert terms.consent_kind("digital-replica") == "digital_replica"
    with pytest.raises(ValueError, match="unknown consent kind"):
        terms.consent_kind("voice_clone")


def test_dates_and_windows() -> None:
    assert terms.date("2027-01-01") == dt.date(2027, 1, 1)
    assert terms.date("") is None
    with pytest.raises(ValueError, match="not a date"):
        terms.date("01/02/2027")
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        terms.window(dt.date(2027, 1, 2), dt.date(2027, 1, 1))


@pytest.mark.parametrize(
    ("licence", "open_"),
    [("CC-BY-3.0", True), ("CC-BY-4.0", True), ("CC0-1.0", True), ("CC-BY-3.0-NL", True),
     ("CC-BY-NC-4.0", False), ("CC-BY-SA-4.0", False), ("CC-BY-ND-4.0", False), ("ACME-2026-014", False)],
)  # fmt: skip
def test_only_cc_by_and_cc0_grant_training_by_themselves(licence: str, open_: bool) -> None:
    assert terms.is_open_licence(licence) is open_


def test_eidr_ids_are_checked_for_shape() -> None:
    assert terms.eidr("10.5240/7791-8534-2c23-9030-8610-5") == "10.5240/7791-8534-2C23-9030-8610-5"
    with pytest.raises(ValueError, match="not an EIDR id"):
        terms.eidr("tt0111161")


def test_slug() -> None:
    assert terms.slug("Tears of Steel") == "tears-of-steel"
    assert terms.slug("Amélie  Poulain!") == "amelie-poulain"
    assert terms.slug("tears_of_steel") == "tears_of_steel"
