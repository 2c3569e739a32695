"""Generation records: one per output, keyed by the 64-bit id its watermark carries.

The record holds everything needed to answer "what made this file": the model and the dataset version it
was trained on, the prompt and its hash, seed and every parameter, hashes of the input files, who asked and
for which tenant, and the licence and attribution lines the output inherits from the model's titles.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cinefoundry.catalog.models import Title
from cinefoundry.core.errors import NotFoundError
from cinefoundry.provenance.models import GenerationRecord
from cinefoundry.registry.models import ModelGrant, StudioModel


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_watermark_id(s: Session) -> str:
    """A fresh random 64-bit id (16 hex digits) that no record has yet."""
    while True:
        candidate = f"{secrets.randbits(64):016x}"
        if s.scalar(select(GenerationRecord.id).where(GenerationRecord.watermark_id == candidate)) is None:
            return candidate


def attributions(s: Session, model: StudioModel) -> list[str]:
    """The attribution lines of every title the model relied on (CC BY requires them on outputs)."""
    rows = s.execute(select(Title.name, Title.attribution).join(ModelGrant, ModelGrant.title_id == Title.id)
                     .where(ModelGrant.model_id == model.id).order_by(Title.name)).all()  # fmt: skip
    return [attribution or name for name, attribution in rows]


def create_record(
    s: Session,
    *,
    model: StudioModel,
    tenant: str,
    actor: str,
    mode: str,
    prompt: str,
    negative_prompt: str,
    seed: int,
    params: dict[str, Any],
    inputs: dict[str, Path],
    parent_id: str | None = None,
) -> GenerationRecord:
    """Insert the record of one output (before the file is written, so its id can be marked into it)."""
    watermark = new_watermark_id(s)
    record = GenerationRecord(
        id=f"gen_{watermark}", watermark_id=watermark, model_id=model.id,
        dataset_version=model.dataset.label if model.dataset else None, tenant=tenant, created_by=actor, mode=mode,
        prompt=prompt, prompt_sha256=sha256_text(prompt), negative_prompt=negative_prompt, seed=seed, params=params,
        inputs={role: {"path": str(p), "sha256": sha256_file(p)} for role, p in inputs.items()},
        outputs=[], licence=model.licence, attributions=attributions(s, model), parent_id=parent_id,
    )  # fmt: skip
    s.add(record)
    s.flush()
    return record


def find_record(s: Session, ref: str) -> GenerationRecord:
    """A record by id (gen_...) or by its watermark id (16 hex digits)."""
    ref = ref.strip().lower()
    record = s.get(GenerationRecord, ref) or s.scalar(
        select(GenerationRecord).where(GenerationRecord.watermark_id == ref.removeprefix("gen_"))
    )
    if record is None:
        raise NotFoundError(f"no generation record {ref!r}")
    return record


def record_by_watermark(s: Session, payload: int) -> GenerationRecord | None:
    """The record a watermark payload resolves to, if this workspace made it."""
    return s.scalar(select(GenerationRecord).where(GenerationRecord.watermark_id == f"{payload:016x}"))
