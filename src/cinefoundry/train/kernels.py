"""The denoiser's fast paths on GPUs, as the recipe asks: the attention kernel and per-block torch.compile.

Training and benchmarks/train_gpu.py both set a model up here, so the benchmark times what training runs.
"""

from __future__ import annotations

import torch
from diffusers.models.attention_dispatch import AttentionBackendName
from diffusers.utils import logging as diffusers_logging

from cinefoundry.core.errors import InputError

# torch's own SDPA choice, and the kernels it can be pinned to through diffusers' attention dispatch. Native is
# the default: torch 2.11 already picks cuDNN's attention on an H200, and pinning it through diffusers copies
# q, k and v to another layout first (5.6 GiB more at 32k tokens) for the same speed (RESULTS.md, 2026-12-04).
NATIVE = AttentionBackendName.NATIVE.value
GPU_ONLY = (AttentionBackendName._NATIVE_CUDNN.value, AttentionBackendName._NATIVE_FLASH.value)
CHOICES = (NATIVE, AttentionBackendName._NATIVE_EFFICIENT.value, *GPU_ONLY)


def attention_backend(choice: str, device: torch.device) -> str:
    """The diffusers attention backend `choice`, checked against the device: a bad name or a GPU kernel on a CPU
    is a recipe error, raised before any work."""
    if choice not in CHOICES:
        raise InputError("recipe", f"attention {choice!r}: use one of {', '.join(CHOICES)}")
    if choice in GPU_ONLY and device.type != "cuda":
        raise InputError("recipe", f"attention {choice!r} runs on CUDA GPUs only; this run is on {device.type}")
    return choice


def prepare_denoiser(transformer: torch.nn.Module, attention: str, compile_blocks: bool,
                     device: torch.device) -> str:  # fmt: skip
    """Set the transformer's attention kernel and compile its blocks (GPUs only); returns the backend used."""
    backend = attention_backend(attention, device)
    if backend != NATIVE:
        logger = diffusers_logging.get_logger("diffusers.models.modeling_utils")
        level = logger.level
        logger.setLevel(diffusers_logging.ERROR)  # its "experimental feature" warning, once per run, says nothing
        try:
            transformer.set_attention_backend(backend)
        finally:
            logger.setLevel(level)
    if compile_blocks and device.type == "cuda":
        for block in transformer.blocks:
            block.compile()  # per block: one graph reused 30-40 times, compiles in seconds, FSDP2-friendly
    return backend
