"""Per-frame timesteps (models/frame_timesteps.py) give diffusers' own per-token outputs and gradients to
float32 rounding (the time embedding's matmuls have fewer rows, the backward sums in another order), with
gradient checkpointing and with a LoRA adapter; diffusers' other timestep forms give its outputs exactly."""

from __future__ import annotations

import copy

import pytest
import torch
from diffusers import WanTransformer3DModel

from cinefoundry.models.denoiser import DenoiserConfig
from cinefoundry.train.lora import add_lora

GEOMETRY = DenoiserConfig(num_layers=2, num_attention_heads=2, attention_head_dim=24, ffn_dim=64,
                          patch_size=(1, 2, 2))  # fmt: skip
B, C, F, H, W, L, TEXT = 3, 8, 5, 6, 4, 7, 40


def _pair() -> tuple[WanTransformer3DModel, WanTransformer3DModel]:
    """The same weights twice: diffusers' plain model, and ours with per-frame timesteps."""
    torch.manual_seed(0)
    ours = DenoiserConfig.build(GEOMETRY, C, TEXT)
    with torch.no_grad():  # zero-initialised tables would hide a modulation applied to the wrong tokens
        for table in [ours.scale_shift_table] + [b.scale_shift_table for b in ours.blocks]:
            table.normal_()
    plain = WanTransformer3DModel.from_config(ours.config)
    plain.load_state_dict(ours.state_dict())
    return plain, ours


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(B, C, F, H, W, generator=gen)
    frame_t = torch.rand(B, F, generator=gen) * 1000
    frame_t[0, 0] = frame_t[1, -1] = 0.0  # conditioning frames: given clean
    return x, frame_t, torch.randn(B, L, TEXT, generator=gen)


def _per_token(frame_t: torch.Tensor) -> torch.Tensor:
    return frame_t.repeat_interleave((H // 2) * (W // 2), dim=1)


def _grads(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad for p in model.parameters() if p.requires_grad]


@pytest.mark.parametrize("checkpointing", [False, True])
def test_per_frame_timesteps_give_diffusers_per_token_outputs_and_gradients(checkpointing: bool) -> None:
    plain, ours = _pair()
    if checkpointing:
        ours.enable_gradient_checkpointing()
    x, frame_t, text = _inputs()
    theirs_out = plain(x, _per_token(frame_t), text, return_dict=False)[0]
    ours_out = ours(x, frame_t, text, return_dict=False)[0]
    assert ours_out.shape == x.shape
    assert torch.allclose(ours_out, theirs_out, rtol=0, atol=1e-5)
    theirs_out.square().mean().backward()
    ours_out.square().mean().backward()
    for mine, theirs in zip(_grads(ours), _grads(plain), strict=True):
        assert torch.allclose(mine, theirs, rtol=1e-5, atol=1e-7)


def test_other_timestep_forms_and_a_lora_adapter_keep_diffusers_results() -> None:
    plain, ours = _pair()
    x, frame_t, text = _inputs()
    with torch.no_grad():
        for t in (frame_t[:, 0], _per_token(frame_t)):  # one per sample, one per token
            assert torch.equal(ours(x, t, text).sample, plain(x, t, text).sample)
    lora_plain, lora_ours = copy.deepcopy(plain), copy.deepcopy(ours)
    for model in (lora_plain, lora_ours):
        add_lora(model, rank=2)
        torch.manual_seed(3)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p)  # peft starts B at zero: make the adapter change the output
    lora_ours.load_state_dict(lora_plain.state_dict())
    theirs_out = lora_plain(x, _per_token(frame_t), text, return_dict=False)[0]
    ours_out = lora_ours(x, frame_t, text, return_dict=False)[0]
    with torch.no_grad():
        assert not torch.allclose(ours_out, ours(x, frame_t, text).sample, atol=1e-3)  # the adapter is live
    assert torch.allclose(ours_out, theirs_out, rtol=0, atol=1e-5)
    theirs_out.square().mean().backward()
    ours_out.square().mean().backward()
    assert len(_grads(lora_ours)) == 2 * 4 * 2 * 2  # A and B on q, k, v, out of both attentions, both blocks
    for mine, theirs in zip(_grads(lora_ours), _grads(lora_plain), strict=True):
        assert torch.allclose(mine, theirs, rtol=1e-5, atol=1e-7)
