"""Per-frame timesteps and a cheaper RoPE for diffusers' Wan transformer, with the same weights and outputs.

Conditioning gives some latent frames clean, so every frame has its own timestep. Diffusers takes those only
per token (Wan 2.2's `(batch, seq_len)` form), and then embeds and applies a (batch, seq_len, 6, dim) float32
modulation in every block: at the demo's size that is a tenth of a training step, at Wan 2.1 sizes over a GiB
a block. Here the same modulation is computed once per frame and broadcast over the frame's tokens, and RoPE
takes fewer ops (and the same numbers). Outputs and gradients equal diffusers' to float32 rounding
(tests/test_frame_timesteps.py).

The model stays diffusers' own class (its checkpoints load with `WanTransformer3DModel.from_pretrained`): the
forwards are set on the instances, so DDP, FSDP2, gradient checkpointing and compiled blocks still go through
each module's `__call__`.
"""

from __future__ import annotations

from types import MethodType
from typing import Any

import torch
from diffusers import WanTransformer3DModel
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.modeling_outputs import Transformer2DModelOutput
from diffusers.models.transformers.transformer_wan import WanAttnProcessor, WanTransformerBlock, _get_qkv_projections


def use_frame_timesteps(transformer: WanTransformer3DModel) -> WanTransformer3DModel:
    """Let `transformer` take timesteps of shape (batch, latent frames); other shapes run diffusers' forward."""
    transformer.forward = MethodType(_model_forward, transformer)
    for block in transformer.blocks:
        block.forward = MethodType(_block_forward, block)
    transformer.set_attn_processor(SwapRopeAttnProcessor())
    return transformer


class SwapRopeAttnProcessor(WanAttnProcessor):
    """Diffusers' Wan attention with RoPE as x * cos + pair-swapped x * signed sin: the same numbers, fewer ops.

    Real-valued on purpose: complex tensors break torch.compile's inductor (diffusers issue 12668). Attention
    with image tokens (Wan I2V weights) is left to diffusers.
    """

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        if attn.add_k_proj is not None:
            return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)
        query, key, value = _get_qkv_projections(attn, hidden_states, encoder_hidden_states)
        query = attn.norm_q(query).unflatten(2, (attn.heads, -1))
        key = attn.norm_k(key).unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))
        if rotary_emb is not None:
            cos, sin = rotary_emb  # repeated per pair: (cos a, cos a, cos b, cos b, ...)
            # (-sin a, sin a, -sin b, ...) from on-device ops: a tensor built here would be a host-to-device copy,
            # which on a GPU stalls every eager attention call
            pairs = sin.unflatten(-1, (-1, 2))
            signed_sin = torch.stack((-pairs[..., 0], pairs[..., 1]), dim=-1).flatten(-2)
            query, key = _rotate(query, cos, signed_sin), _rotate(key, cos, signed_sin)
        parallel = self._parallel_config if encoder_hidden_states is None else None  # as diffusers: self-attention
        out = dispatch_attention_fn(query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False,
                                    backend=self._attention_backend, parallel_config=parallel)  # fmt: skip
        out = out.flatten(2, 3).type_as(query)
        return attn.to_out[1](attn.to_out[0](out))


def _rotate(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """Channel pairs (x0, x1) turned to (x0 cos - x1 sin, x1 cos + x0 sin): diffusers' apply_rotary_emb."""
    swapped = x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)
    return (x * cos + swapped * signed_sin).type_as(x)


def _model_forward(self: WanTransformer3DModel, hidden_states: torch.Tensor, timestep: torch.Tensor,
                   encoder_hidden_states: torch.Tensor, encoder_hidden_states_image: torch.Tensor | None = None,
                   return_dict: bool = True, attention_kwargs: dict[str, Any] | None = None):  # fmt: skip
    """Diffusers' forward, with the time embedding and modulations per latent frame when given so."""
    b, _, frames, height, width = hidden_states.shape
    pt, ph, pw = self.config.patch_size
    f, h, w = frames // pt, height // ph, width // pw
    per_frame = timestep.ndim == 2 and timestep.shape[1] == f and h * w > 1
    if not per_frame or attention_kwargs:  # per sample, per token or a LoRA scale: diffusers' own path
        return WanTransformer3DModel.forward(self, hidden_states, timestep, encoder_hidden_states,
                                             encoder_hidden_states_image, return_dict, attention_kwargs)  # fmt: skip
    rotary_emb = self.rope(hidden_states)
    x = self.patch_embedding(hidden_states).flatten(2).transpose(1, 2).contiguous()
    temb, mods, context, image = self.condition_embedder(
        timestep.flatten(), encoder_hidden_states, encoder_hidden_states_image, timestep_seq_len=f
    )
    mods = mods.unflatten(2, (6, -1))  # (B, F, 6, D): the block tells it from per-token by its length
    if image is not None:
        context = torch.concat([image, context], dim=1)
    checkpointed = torch.is_grad_enabled() and self.gradient_checkpointing
    for block in self.blocks:
        if checkpointed:
            x = self._gradient_checkpointing_func(block, x, context, mods, rotary_emb)
        else:
            x = block(x, context, mods, rotary_emb)
    shift, scale = (self.scale_shift_table.unsqueeze(0) + temb.unsqueeze(2)).unsqueeze(3).unbind(2)
    x = _per_token(_per_frame(self.norm_out(x.float()), f) * (1 + scale) + shift).type_as(x)
    x = self.proj_out(x)
    x = x.reshape(b, f, h, w, pt, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
    out = x.flatten(6, 7).flatten(4, 5).flatten(2, 3)
    return Transformer2DModelOutput(sample=out) if return_dict else (out,)


def _block_forward(self: WanTransformerBlock, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor,
                   temb: torch.Tensor, rotary_emb: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:  # fmt: skip
    """Diffusers' block, with (B, F, 6, D) modulations broadcast over each frame's tokens."""
    if temb.ndim != 4 or temb.shape[1] == hidden_states.shape[1]:
        return WanTransformerBlock.forward(self, hidden_states, encoder_hidden_states, temb, rotary_emb)
    f = temb.shape[1]
    mods = (self.scale_shift_table.unsqueeze(0) + temb.float()).unsqueeze(3)
    shift, scale, gate, c_shift, c_scale, c_gate = mods.unbind(2)  # each (B, F, 1, D): broadcast over a frame
    h = hidden_states
    norm = _per_token(_per_frame(self.norm1(h.float()), f) * (1 + scale) + shift).type_as(h)
    attn = self.attn1(norm, None, None, rotary_emb)
    h = _per_token(_per_frame(h.float(), f) + _per_frame(attn, f) * gate).type_as(h)
    norm = self.norm2(h.float()).type_as(h)
    h = h + self.attn2(norm, encoder_hidden_states, None, None)
    norm = _per_token(_per_frame(self.norm3(h.float()), f) * (1 + c_scale) + c_shift).type_as(h)
    ff = self.ffn(norm)
    return _per_token(_per_frame(h.float(), f) + _per_frame(ff.float(), f) * c_gate).type_as(h)


def _per_frame(x: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, S, D) in Wan's frame-major token order -> (B, F, S/F, D)."""
    return x.unflatten(1, (frames, -1))


def _per_token(x: torch.Tensor) -> torch.Tensor:
    """(B, F, S/F, D) -> (B, S, D)."""
    return x.flatten(1, 2)
