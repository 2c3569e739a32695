"""train/kernels.py: the attention kernel a recipe may pin, and checkpointing that keeps attention's outputs.

Checked on this CPU, eager and compiled (inductor's CPU backend): the GPU numbers are in RESULTS.md.
"""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from cinefoundry.core.errors import InputError
from cinefoundry.models.denoiser import DenoiserConfig
from cinefoundry.train.kernels import attention_backend, checkpoint_blocks, checkpointing_mode, prepare_denoiser

CPU = torch.device("cpu")
GEOMETRY = DenoiserConfig(num_layers=3, num_attention_heads=2, attention_head_dim=16, ffn_dim=64,
                          patch_size=(1, 2, 2))  # fmt: skip
B, C, F, H, W, L, TEXT = 2, 8, 3, 8, 8, 6, 32


class OpCounter(TorchDispatchMode):
    """How many times each aten op ran while the mode was on."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        self.calls[name] = self.calls.get(name, 0) + 1
        return func(*args, **(kwargs or {}))

    def count(self, *names: str) -> int:
        return sum(self.calls.get(n, 0) for n in names)


ATTENTION = ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
             "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention")  # fmt: skip


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = GEOMETRY.build(C, TEXT)
    with torch.no_grad():  # zero-initialised tables would hide a block whose output is wrong
        for table in [model.scale_shift_table] + [b.scale_shift_table for b in model.blocks]:
            table.normal_()
    return model


def _step(model: torch.nn.Module) -> tuple[torch.Tensor, list[torch.Tensor], OpCounter]:
    """Output, gradients, and the ops the backward ran, on per-frame timesteps (as training gives them)."""
    gen = torch.Generator().manual_seed(1)
    x, t, text = (
        torch.randn(B, C, F, H, W, generator=gen),
        torch.rand(B, F, generator=gen) * 1000,
        torch.randn(B, L, TEXT, generator=gen),
    )
    out = model(x, t, text, return_dict=False)[0]
    with OpCounter() as backward:
        out.square().mean().backward()
    return out.detach(), [p.grad for p in model.parameters()], backward


def test_attention_and_checkpointing_choices_are_checked_against_the_run_before_any_work() -> None:
    gpu = torch.device("cuda")  # only its type is read: no GPU is needed to check a choice against one
    assert attention_backend("native", CPU) == "native"
    assert attention_backend("_native_cudnn", gpu) == "_native_cudnn"
    assert attention_backend("_native_efficient", gpu, bf16=False) == "_native_efficient"
    with pytest.raises(InputError, match="attention 'flash3': use one of native, _native_efficient, _native_cudnn"):
        attention_backend("flash3", CPU)
    for kernel in ("_native_flash", "_native_efficient"):  # diffusers finds no kernel for either on a CPU
        with pytest.raises(InputError, match=f"'{kernel}' runs on CUDA GPUs only; this run is on cpu"):
            attention_backend(kernel, CPU)
    with pytest.raises(InputError, match="'_native_flash' has no fp32 kernel; this run is fp32"):
        attention_backend("_native_flash", gpu, bf16=False)
    assert [checkpointing_mode(v) for v in (False, None, True, "selective", "full")] == [
        None, None, "selective", "selective", "full"]  # fmt: skip
    for bad in (1, "half"):
        with pytest.raises(
            InputError, match=f"gradient_checkpointing {bad!r}: use false, true \\(selective\\) or full"
        ):
            checkpointing_mode(bad)


def test_full_checkpointing_is_diffusers_own_and_preparing_twice_wraps_once() -> None:
    full, twice = _model(), _model()
    prepare_denoiser(full, "native", compile_blocks=False, device=CPU, checkpointing="full")
    assert full.gradient_checkpointing and all(not isinstance(b.forward, functools.partial) for b in full.blocks)
    _, _, backward = _step(full)
    assert backward.count(*ATTENTION) == 2 * GEOMETRY.num_layers  # whole blocks recomputed, attention too
    for _ in range(2):
        prepare_denoiser(twice, "native", compile_blocks=False, device=CPU, checkpointing=True)
    assert all(not isinstance(b.forward.args[0], functools.partial) for b in twice.blocks)  # one wrapper, not two


def test_checkpointing_keeps_attention_and_recomputes_the_rest_with_the_same_gradients() -> None:
    plain = _model()
    ours, whole = copy.deepcopy(plain), copy.deepcopy(plain)
    prepare_denoiser(ours, "native", compile_blocks=False, device=CPU, checkpointing=True)
    whole.enable_gradient_checkpointing()  # diffusers' own: each block recomputed whole
    out, grads, backward = _step(plain)
    ours_out, ours_grads, ours_backward = _step(ours)
    _, _, whole_backward = _step(whole)
    assert torch.equal(ours_out, out)
    for mine, ref in zip(ours_grads, grads, strict=True):
        assert torch.allclose(mine, ref, rtol=1e-5, atol=1e-7)
    layers = GEOMETRY.num_layers
    assert backward.count(*ATTENTION) == 0
    assert ours_backward.count(*ATTENTION) == 0  # kept from the forward: no attention runs again
    assert whole_backward.count(*ATTENTION) == 2 * layers  # self and cross attention recomputed in each block
    recomputed = ours_backward.count("mm", "addmm") - backward.count("mm", "addmm")
    assert recomputed >= 6 * layers  # q, k, v, out, two FFN projections: at least, per block


def test_a_compiled_checkpointed_block_gives_eager_gradients_with_one_graph_for_all_blocks() -> None:
    """Inductor's CPU backend stands in for the GPU's: the same tracing of the checkpoint and its policy."""
    from torch._dynamo.utils import counters

    eager = _model()
    compiled = copy.deepcopy(eager)
    checkpoint_blocks(eager)
    checkpoint_blocks(compiled)
    torch._dynamo.reset()
    counters.clear()
    for block in compiled.blocks:
        block.compile()
    out, grads, _ = _step(eager)
    compiled_out, compiled_grads, backward = _step(compiled)
    assert torch.allclose(compiled_out, out, rtol=1e-4, atol=1e-5)
    for mine, ref in zip(compiled_grads, grads, strict=True):
        assert torch.allclose(mine, ref, rtol=1e-3, atol=1e-5)
    # the partitioner followed the policy: no attention again, and the forward's linear layers (addmm: a
    # backward alone runs only mm) recomputed
    assert backward.count(*ATTENTION) == 0 and backward.count("addmm") >= 5 * GEOMETRY.num_layers, backward.calls
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])
    assert not counters["recompiles"], dict(counters["recompiles"])
