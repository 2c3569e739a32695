"""A trained model on disk, in diffusers layout: `vae/`, `transformer/` (EMA weights), `scheduler/`,
optionally `text_encoder/` (the tiny test encoder) or `transformer_lora/` (a LoRA over a parent model), and
`cinefoundry.json` (recipe, data lineage, latent geometry). Every part loads with diffusers' own classes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, WanTransformer3DModel

from cinefoundry.core.errors import InputError
from cinefoundry.models.frame_timesteps import use_frame_timesteps
from cinefoundry.models.recipes import Recipe
from cinefoundry.models.text import TextEncoder, load_text_encoder
from cinefoundry.models.vae import load_vae

META = "cinefoundry.json"
LORA_FILE = "pytorch_lora_weights.safetensors"  # the name diffusers' save_lora_weights writes


@dataclass
class ModelBundle:
    """The loaded parts of a model and its metadata."""

    folder: Path
    meta: dict[str, Any]
    recipe: Recipe
    vae: torch.nn.Module
    transformer: WanTransformer3DModel
    text: TextEncoder
    scheduler: FlowMatchEulerDiscreteScheduler

    @property
    def latent_shape(self) -> tuple[int, int, int, int]:
        return tuple(self.meta["latent_shape"])  # type: ignore[return-value]


def make_scheduler(shift: float) -> FlowMatchEulerDiscreteScheduler:
    """The sampling scheduler (a separate instance from anything training uses)."""
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)


def save_bundle(folder: Path, *, vae: torch.nn.Module, transformer: WanTransformer3DModel | None,
                text: TextEncoder, recipe: Recipe, meta: dict[str, Any],
                lora_state: dict[str, torch.Tensor] | None = None) -> None:  # fmt: skip
    """Write a model folder (diffusers `save_pretrained` for every part)."""
    folder.mkdir(parents=True, exist_ok=True)
    vae.save_pretrained(folder / "vae")
    if transformer is not None:
        transformer.save_pretrained(folder / "transformer")
    if lora_state is not None:
        from diffusers import WanPipeline

        WanPipeline.save_lora_weights(folder / "transformer_lora", transformer_lora_layers=lora_state)
    make_scheduler(recipe.sampling_shift).save_pretrained(folder / "scheduler")
    text_cfg = recipe.text
    if text_cfg.kind == "t5-tiny":
        text.save(folder / "text_encoder")
        text_cfg = replace(text_cfg, path="text_encoder")
    doc = dict(meta, recipe=replace(recipe, text=text_cfg).as_dict())
    (folder / META).write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")


def read_meta(folder: Path) -> dict[str, Any]:
    """The `cinefoundry.json` of a model folder."""
    path = folder / META
    if not path.is_file():
        raise InputError(str(folder), f"not a cinefoundry model folder (no {META})")
    return json.loads(path.read_text(encoding="utf-8"))


def load_bundle(folder: Path, device: torch.device | str = "cpu") -> ModelBundle:
    """Load every part of a model folder; a LoRA model loads its parent's transformer, then the adapter."""
    meta = read_meta(folder)
    recipe = Recipe.from_dict(meta["recipe"])
    text_cfg = recipe.text
    if text_cfg.path and not Path(text_cfg.path).is_absolute():
        text_cfg = replace(text_cfg, path=str(folder / text_cfg.path))
    vae = load_vae(str(folder / "vae"), recipe.vae.kind).to(device).eval()
    if (folder / "transformer").is_dir():
        transformer = WanTransformer3DModel.from_pretrained(folder / "transformer")
    else:
        parent = folder.parent / meta["lora"]["parent"]
        transformer = WanTransformer3DModel.from_pretrained(parent / "transformer")
        transformer.load_lora_adapter(str(folder / "transformer_lora"), weight_name=LORA_FILE, adapter_name="default")
    use_frame_timesteps(transformer)
    scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(folder / "scheduler")
    return ModelBundle(folder, meta, recipe, vae, transformer.to(device).eval(), load_text_encoder(text_cfg),
                       scheduler)  # fmt: skip
