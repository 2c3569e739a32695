"""LoRA with peft on the denoiser's attention projections, saved as diffusers-loadable LoRA weights."""

from __future__ import annotations

import torch

TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def add_lora(transformer: torch.nn.Module, rank: int, alpha: float | None = None) -> None:
    """Freeze the transformer and add a trainable LoRA adapter (peft, through diffusers' adapter API)."""
    from peft import LoraConfig

    if rank < 1:
        raise ValueError(f"LoRA rank {rank}: must be at least 1")
    transformer.requires_grad_(False)
    transformer.add_adapter(LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights=True,
                                       target_modules=TARGETS))  # fmt: skip


def lora_state_dict(transformer: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The adapter's weights in diffusers' key format (what `save_lora_weights` expects)."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    return convert_state_dict_to_diffusers(get_peft_model_state_dict(transformer))
