"""Where a run starts from: nothing (from scratch), a registered model, or a local diffusers folder of base
weights (e.g. Wan2.1-T2V-1.3B-Diffusers: `transformer/`, `vae/`, `text_encoder/`, `tokenizer/`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from sqlalchemy.orm import Session

from cinefoundry.core.errors import InputError
from cinefoundry.models.bundle import load_bundle
from cinefoundry.models.text import TextEncoderConfig
from cinefoundry.models.vae import VAEConfig
from cinefoundry.registry.registry import find_model


@dataclass
class InitSource:
    """The parts a run inherits; None fields are built from the recipe."""

    vae: torch.nn.Module | None = None
    vae_config: VAEConfig | None = None
    text_config: TextEncoderConfig | None = None
    transformer: torch.nn.Module | None = None
    model_id: int | None = None  # the parent model in the registry
    folder_ref: str | None = None  # the parent's folder: a model label under models/, or an absolute path
    base_weights: str | None = None  # a description of local base weights


def resolve_init(s: Session, home: Path, ref: str | None) -> InitSource:
    """Load what `--init-from` names (a folder path wins over a model name)."""
    if not ref:
        return InitSource()
    path = Path(ref).expanduser()
    if path.is_dir():
        return _from_folder(path.resolve())
    model = find_model(s, ref)
    if model.lora_rank:
        raise InputError(ref, "is a LoRA model: start from its parent, or from a full model")
    bundle = load_bundle(home / model.path)
    text = bundle.recipe.text
    if text.path and not Path(text.path).is_absolute():
        text = TextEncoderConfig(text.kind, text.max_length, str(home / model.path / text.path))
    return InitSource(bundle.vae, bundle.recipe.vae, text, bundle.transformer, model.id, model.label, None)


def _from_folder(path: Path) -> InitSource:
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    from cinefoundry.models.frame_timesteps import use_frame_timesteps

    if not (path / "transformer" / "config.json").is_file():
        raise InputError(str(path), "no transformer/config.json: expected a diffusers Wan folder (save_pretrained)")
    transformer = use_frame_timesteps(WanTransformer3DModel.from_pretrained(path / "transformer"))
    vae = AutoencoderKLWan.from_pretrained(path / "vae") if (path / "vae").is_dir() else None
    vae_cfg = VAEConfig(kind="wan", latent_channels=vae.config.z_dim) if vae is not None else None
    text = TextEncoderConfig("umt5", 512, str(path / "text_encoder")) if (path / "text_encoder").is_dir() else None
    return InitSource(vae, vae_cfg, text, transformer, None, str(path), f"{path.name} {_digest(path)}")


def _digest(path: Path) -> str:
    """sha256 of the transformer's config and first weight file's first MiB: names the base weights."""
    h = hashlib.sha256((path / "transformer" / "config.json").read_bytes())
    weights = sorted((path / "transformer").glob("*.safetensors"))
    if weights:
        with weights[0].open("rb") as f:
            h.update(f.read(1 << 20))
    return "sha256:" + h.hexdigest()[:16]
