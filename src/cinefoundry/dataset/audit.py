"""`dataset audit`: the rights audit of a dataset version, and a public training-content summary.

The audit lists every title with the grant that allowed it on the build date, its licence, attribution
line, clip count and seconds, and every title left out with the reason. The summary follows the spirit of
the EU AI Act's template for the public summary of training content (general information, data sources,
data processing), as a markdown document.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cinefoundry.catalog.models import Grant, Title
from cinefoundry.catalog.queries import grant_status
from cinefoundry.dataset.build import latest_version


def audit_dataset(s: Session, name: str) -> dict[str, Any]:
    """Rights audit of dataset `name` (latest version, or `name@vN`)."""
    version = latest_version(s, name)
    titles = []
    for entry in version.titles:
        title, grant = s.get(Title, entry.title_id), s.get(Grant, entry.grant_id)
        titles.append(
            {
                "title_id": title.id,
                "title": title.name,
                "year": title.year,
                "kind": title.kind,
                "rights_holder": title.rights_holder,
                "clips": entry.clips,
                "seconds": entry.seconds,
                "grant": {
                    "id": grant.id,
                    "licence": grant.licence,
                    "licence_url": grant.licence_url,
                    "uses": grant.uses,
                    "territories": grant.territories,
                    "window": [str(grant.window_start or ""), str(grant.window_end or "")],
                    "attribution_required": grant.attribution_required,
                    "status_today": grant_status(grant),
                },
                "attribution": entry.attribution,
                "performers": [c.performer.name for c in title.credits],
                "consents": sorted({f"{c.performer.name}: {c.kind}" for c in _consents(title)}),
            }
        )
    return {
        "dataset": version.as_dict(),
        "titles": titles,
        "excluded": [{"title_id": e.title_id, "reason": e.reason} for e in version.exclusions],
        "attribution_lines": [
            t["attribution"] for t in titles if t["attribution"] and t["grant"]["attribution_required"]
        ],
        "totals": {"titles": len(titles), "clips": version.clips, "seconds": version.seconds},
    }


def _consents(title: Title) -> list:
    """Consents in force today that performers of this title have given (for any use of their likeness)."""
    people = {c.performer for c in title.credits} | {c.performer for c in title.characters if c.performer}
    return [c for p in people for c in p.consents if grant_status(c) == "active"]


def summary_markdown(audit: dict[str, Any], provider: str) -> str:
    """A public summary of the training content of one dataset version (markdown)."""
    d = audit["dataset"]
    years = sorted(t["year"] for t in audit["titles"] if t["year"])
    performers = sorted({p for t in audit["titles"] for p in t["performers"]})
    consents = sorted({c for t in audit["titles"] for c in t["consents"]})
    # CC BY asks that changes be indicated and the licence linked (its SPDX id where no URL is recorded)
    urls = {
        t["grant"]["licence_url"] or t["grant"]["licence"]
        for t in audit["titles"]
        if t["grant"]["attribution_required"]
    }
    span = f"{years[0]}-{years[-1]}" if years else "unknown"
    lines = [
        f"# Summary of training content: {d['label']}",
        "",
        "## 1. General information",
        f"- Provider: {provider}",
        f"- Dataset version: {d['label']} (content hash `{d['content_hash']}`), built on {d['built_on']} "
        f"by {d['created_by']} from clip-catalog version {d['catalog_version']}",
        "- Modality: video (no audio), with text captions generated from catalog metadata",
        f"- Size: {audit['totals']['clips']} clips, {audit['totals']['seconds'] / 3600:.3f} hours, from "
        f"{audit['totals']['titles']} titles; content produced {span}",
        "",
        "## 2. List of data sources",
        "### 2.1 Publicly available datasets",
        "None.",
        "### 2.2 Licensed or owned content",
        "| title | year | rights holder | licence | clips | seconds |",
        "|---|---|---|---|---|---|",
        *[
            f"| {t['title']} | {t['year'] or ''} | {t['rights_holder'] or ''} | {t['grant']['licence']} | "
            f"{t['clips']} | {t['seconds']:.1f} |"
            for t in audit["titles"]
        ],
        "### 2.3 Data crawled or scraped from online sources",
        "None: only titles in the studio's catalog with a recorded grant for training are used.",
        "### 2.4 User data",
        "None.",
        "### 2.5 Synthetic data",
        "None.",
        "",
        "## 3. Data processing",
        "- Rights: every title was checked on the build date against its grants (use `train`, territory, "
        "window, revocation, restrictions); titles without a valid grant were left out.",
        "- Titles left out: " + ("; ".join(f"{e['title_id']} ({e['reason']})" for e in audit["excluded"]) or "none"),
        f"- Curation filters: {', '.join(f'{k}={v}' for k, v in d['settings']['filters'].items())}",
        f"- Performers credited in these titles: {len(performers)}; likeness consents in force: "
        + ("; ".join(consents) if consents else "none"),
        "",
        "## Attribution",
        *[f"- {line}" for line in audit["attribution_lines"]],
        *(
            [
                "",
                "Changes: the titles above were cut into short clips, cropped, scaled and re-encoded for training.",
                "Licences: " + ", ".join(sorted(urls)),
            ]
            if urls
            else []
        ),
    ]
    return "\n".join(lines) + "\n"
