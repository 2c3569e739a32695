"""The denoiser's fast paths, as the recipe asks: the attention kernel, gradient checkpointing that keeps
attention's outputs, and per-block torch.compile on GPUs.

Training and benchmarks/train_gpu.py both set a model up here, so the benchmark times what training runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from diffusers.models.attention_dispatch import AttentionBackendName
from diffusers.utils import logging as diffusers_logging
from torch.utils.checkpoint import checkpoint, create_selective_checkpoint_contexts

from cinefoundry.core.errors import InputError

# torch's own SDPA choice, and the kernels it can be pinned to through diffusers' attention dispatch. Native is
# the default: torch 2.11 already picks cuDNN's attention on an H200, and pinning it through diffusers copies
# q, k and v to another layout first (5.6 GiB more at 32k tokens) for the same speed (RESULTS.md, 2026-12-04).
NATIVE = AttentionBackendName.NATIVE.value
HALF_ONLY = (AttentionBackendName._NATIVE_CUDNN.value, AttentionBackendName._NATIVE_FLASH.value)  # bf16/fp16 only
GPU_ONLY = (AttentionBackendName._NATIVE_EFFICIENT.value, *HALF_ONLY)
CHOICES = (NATIVE, *GPU_ONLY)


def attention_backend(choice: str, device: torch.device, bf16: bool = True) -> str:
    """The diffusers attention backend `choice`, checked against the device and precision: a bad name, a GPU
    kernel on a CPU or a half-precision kernel in fp32 is a recipe error, raised before any work."""
    if choice not in CHOICES:
        raise InputError("recipe", f"attention {choice!r}: use one of {', '.join(CHOICES)}")
    if choice in GPU_ONLY and device.type != "cuda":
        raise InputError("recipe", f"attention {choice!r} runs on CUDA GPUs only; this run is on {device.type}")
    if choice in HALF_ONLY and not bf16:
        raise InputError("recipe", f"attention {choice!r} has no fp32 kernel; this run is fp32 (precision)")
    return choice


def checkpointing_mode(value: bool | str | None) -> str | None:
    """The recipe's `gradient_checkpointing` as None (false, off), "selective" (true) or "full"; anything else
    is a recipe error."""
    if value is None or value is False:
        return None
    if value is True or value == "selective":
        return "selective"
    if value == "full":
        return "full"
    raise InputError("recipe", f"gradient_checkpointing {value!r}: use false, true (selective) or full")


# attention's fused kernels: their outputs are what selective checkpointing keeps
SAVED_OPS = [getattr(torch.ops.aten, name).default for name in (
    "_scaled_dot_product_flash_attention", "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention_for_cpu",
) if hasattr(torch.ops.aten, name)]  # fmt: skip


def checkpoint_blocks(transformer: torch.nn.Module) -> None:
    """Gradient checkpointing per block that keeps attention's outputs and recomputes the rest in the backward.

    Diffusers' checkpointing recomputes whole blocks, attention too: at 32k tokens attention is 70% of a Wan
    step, so that costs a third more time; the projections, norms and FFN it recomputes here cost a tenth of it,
    for 10% more memory at Wan 1.3B. Set inside each block's forward, so a compiled block traces the checkpoint
    and the partitioner follows the policy. Outputs and gradients are those of training without checkpointing
    (tests/test_kernels.py). A block already wrapped is left as it is.
    """
    for block in transformer.blocks:
        if not (isinstance(block.forward, functools.partial) and block.forward.func is _checkpointed):
            block.forward = functools.partial(_checkpointed, block.forward)


def _checkpointed(forward: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if not torch.is_grad_enabled():
        return forward(*args, **kwargs)
    return checkpoint(forward, *args, use_reentrant=False, context_fn=_keep_attention, **kwargs)


def _keep_attention() -> tuple[Any, Any]:
    return create_selective_checkpoint_contexts(SAVED_OPS)


def prepare_denoiser(transformer: torch.nn.Module, attention: str, compile_blocks: bool, device: torch.device,
                     checkpointing: bool | str = False) -> str:  # fmt: skip
    """Set the transformer's attention kernel, its checkpointing (`checkpointing_mode`) and compile its blocks
    (GPUs only); returns the attention backend used."""
    backend = attention_backend(attention, device)
    if backend != NATIVE:
        logger = diffusers_logging.get_logger("diffusers.models.modeling_utils")
        level = logger.level
        logger.setLevel(diffusers_logging.ERROR)  # its "experimental feature" warning, once per run, says nothing
        try:
            transformer.set_attention_backend(backend)
        finally:
            logger.setLevel(level)
    mode = checkpointing_mode(checkpointing)
    if mode == "selective":
        checkpoint_blocks(transformer)
    elif mode == "full":
        transformer.enable_gradient_checkpointing()
    if compile_blocks and device.type == "cuda":
        for block in transformer.blocks:
            block.compile()  # per block: one graph reused 30-40 times, compiles in seconds, FSDP2-friendly
    return backend
