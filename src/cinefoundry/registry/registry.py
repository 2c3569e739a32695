"""Register trained models with their lineage, look them up, and find those a removed title affects.

A model trained on a dataset version is linked to every title grant of that version; a fine-tuned model
also inherits its parent's, so a model's lineage reaches every grant it relied on, however deep the chain.
"""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cinefoundry.catalog.models import Grant, Title
from cinefoundry.catalog.queries import grant_status
from cinefoundry.core.errors import CinefoundryError, NotFoundError
from cinefoundry.dataset.models import DatasetTitle, DatasetVersion
from cinefoundry.registry.models import AFFECTED, ModelGrant, StudioModel

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def code_version() -> str:
    """The git commit of the running code (short sha, `-dirty` with uncommitted changes) when it runs from a
    git checkout, else `cinefoundry <installed version>`; never fails, git or not."""
    try:
        # the package's own files must be tracked: an installed copy inside some other repository is not a checkout
        if _git("ls-files", "--", "__init__.py") != "__init__.py":
            raise LookupError
        sha = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no") != ""
        return sha + ("-dirty" if dirty else "")
    except (OSError, LookupError, subprocess.SubprocessError):
        try:
            return f"cinefoundry {version('cinefoundry')}"
        except PackageNotFoundError:
            return "cinefoundry unknown"


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(PACKAGE_DIR), *args], capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()


def register_model(
    s: Session,
    *,
    name: str,
    tenant: str,
    recipe: str,
    config: dict[str, Any],
    dataset: DatasetVersion | None,
    parent: StudioModel | None,
    base_weights: str | None,
    path: str,
    actor: str,
    lora_rank: int | None = None,
    metrics: dict[str, Any] | None = None,
) -> StudioModel:
    """Record the next version of model `name` with its lineage: the dataset version's title grants plus its
    parent's (for titles the dataset does not cover); flushed, so its id and label are set."""
    name = name.strip()
    if "@" in name or not name or name.isdigit():
        # `find_model` reads `name@vN` as a version and digits as an id
        raise CinefoundryError(f"model name {name!r}: give a plain name (not digits, no '@'); versions are numbered")
    if dataset is None and parent is None and not base_weights:
        raise CinefoundryError(f"model {name!r}: a model needs a dataset version, a parent model or base weights")
    number = (s.scalar(select(func.max(StudioModel.number)).where(StudioModel.name == name)) or 0) + 1
    model = StudioModel(
        name=name,
        number=number,
        tenant=tenant,
        recipe=recipe,
        config=config,
        dataset_version_id=dataset.id if dataset else None,
        parent_id=parent.id if parent else None,
        base_weights=base_weights,
        lora_rank=lora_rank,
        code_version=code_version(),
        path=path,
        licence=f"proprietary: exclusive to {tenant}",
        metrics=dict(metrics or {}),
        created_by=actor,
    )
    s.add(model)
    s.flush()
    grants: dict[str, int] = {}
    if dataset is not None:
        grants |= {
            t.title_id: t.grant_id for t in s.scalars(select(DatasetTitle).where(DatasetTitle.version_id == dataset.id))
        }
    if parent is not None:
        # for a title both cover, the dataset's grant wins: the rights gate checked it when that dataset was built
        grants = {g.title_id: g.grant_id for g in parent.grants} | grants
    s.add_all(ModelGrant(model_id=model.id, title_id=t, grant_id=g) for t, g in sorted(grants.items()))
    s.flush()
    s.expire(model, ["grants", "dataset", "parent"])  # loaded afresh on first use
    return model


def find_model(s: Session, ref: str | int) -> StudioModel:
    """A model by `name` (its newest version), `name@vN`, or numeric id; a miss suggests the closest labels."""
    text = str(ref).strip()
    model: StudioModel | None = None
    if text.isdigit():
        model = s.get(StudioModel, int(text))
    else:
        name, _, number = text.partition("@v")
        query = select(StudioModel).where(StudioModel.name == name)
        if number.isdigit():
            query = query.where(StudioModel.number == int(number))
        elif number or "@" in name:
            query = None  # malformed label: fall through to the suggestions
        if query is not None:
            model = s.scalars(query.order_by(StudioModel.number.desc())).first()
    if model is None:
        labels = [f"{n}@v{v}" for n, v in s.execute(select(StudioModel.name, StudioModel.number))]
        # a versioned reference is compared with versioned labels, a bare one with names
        choices = labels if "@" in text else sorted({label.split("@v")[0] for label in labels})
        best = process.extract(text, choices, scorer=fuzz.WRatio, limit=3, score_cutoff=60)
        hint = f"; did you mean {', '.join(label for label, _, _ in best)}?" if best else ""
        where = hint or ("; none is registered yet" if not labels else "; see `cinefoundry models list`")
        raise NotFoundError(f"no model {text!r}{where}")
    return model


def list_models(s: Session, tenant: str | None = None) -> list[StudioModel]:
    """Every registered model (of one tenant when given), by name then version."""
    query = select(StudioModel).order_by(StudioModel.name, StudioModel.number)
    if tenant is not None:
        query = query.where(StudioModel.tenant == tenant)
    return list(s.scalars(query))


def record_metrics(s: Session, model: StudioModel, metrics: dict[str, Any]) -> StudioModel:
    """Merge `metrics` into the model's metrics (new keys win); the change is audited."""
    # a new dict: SQLAlchemy does not see in-place changes to a JSON column
    model.metrics = {**(model.metrics or {}), **metrics}
    s.flush()
    return model


def parent_chain(model: StudioModel) -> list[StudioModel]:
    """The model's ancestors, nearest first (the model it was fine-tuned from, that one's parent, ...)."""
    chain, seen, node = [], {model.id}, model.parent
    while node is not None and node.id not in seen:  # `seen` guards against a corrupted cycle
        chain.append(node)
        seen.add(node.id)
        node = node.parent
    return chain


def lineage(s: Session, model: StudioModel) -> dict[str, Any]:
    """Everything the model came from: dataset version (label, content hash), each title with its grant and
    licence, the parent chain, the code version and base weights; the root of a rights audit of a model."""
    titles = []
    for mg in model.grants:
        title, grant = s.get(Title, mg.title_id), s.get(Grant, mg.grant_id)
        titles.append({"title_id": title.id, "title": title.name, "grant_id": grant.id, "licence": grant.licence,
                       "grant_status": grant_status(grant)})  # fmt: skip
    chain = parent_chain(model)
    return {
        "model": model.label,
        "dataset": model.dataset.label if model.dataset else None,
        "dataset_content_hash": model.dataset.content_hash if model.dataset else None,
        "titles": titles,
        "parents": [p.label for p in chain],
        "parent_datasets": [p.dataset.label if p.dataset else None for p in chain],
        "code_version": model.code_version,
        "base_weights": model.base_weights or next((p.base_weights for p in chain if p.base_weights), None),
        "lora_rank": model.lora_rank,
    }


def affected_models(s: Session, title_id: str) -> list[StudioModel]:
    """Every model that relied on the title: linked to one of its grants, or descended from such a model."""
    found = {m.id: m for m in s.scalars(select(StudioModel).join(ModelGrant).where(ModelGrant.title_id == title_id))}
    frontier = set(found)
    while frontier:  # children of affected models, in case a link row predates the parent's grants
        children = s.scalars(select(StudioModel).where(StudioModel.parent_id.in_(frontier))).all()
        frontier = {c.id for c in children if c.id not in found}
        found |= {c.id: c for c in children}
    return sorted(found.values(), key=lambda m: (m.name, m.number))


def mark_affected_hook(s: Session, title_id: str, note: str) -> list[dict[str, Any]]:
    """`dataset.build.remove_title`'s `on_removed` hook: mark the models and describe them."""
    return [{"id": m.id, "label": m.label, "dataset": m.dataset.label if m.dataset else None, "status": m.status}
            for m in mark_affected(s, title_id, note)]  # fmt: skip


def mark_affected(s: Session, title_id: str, note: str) -> list[StudioModel]:
    """Set `status = affected` on every model that relied on the title, with `note` saying why (audited;
    nothing is deleted). Returns those models."""
    models = affected_models(s, title_id)
    for m in models:
        m.status, m.status_note = AFFECTED, note
    s.flush()
    return models
