"""benchmarks/train_gpu.py works before a GPU's time is spent on it: its smoke run, on this CPU.

The smoke run takes the same code path as on a GPU (model build, FLOP count, the plain step, our TrainingLoop
with per-block torch.compile), on the demo's denoiser and tiny clips. The timings mean nothing here; the GPU
numbers themselves are in RESULTS.md when a session had one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def bench_module():
    """benchmarks/train_gpu.py as a module (benchmarks/ is not a package)."""
    sys.path.insert(0, str(BENCH))
    try:
        import train_gpu
    finally:
        sys.path.remove(str(BENCH))
    return train_gpu


@pytest.mark.parametrize(
    "options",
    [[], ["--checkpointing"], ["--checkpointing", "full"]],
    ids=["plain", "checkpointing", "full-checkpointing"],
)
def test_train_gpu_smoke_run_compiles_our_blocks_and_reports_both_steps(options: list[str]) -> None:
    results = (BENCH / "RESULTS.md").read_bytes()
    done = subprocess.run([sys.executable, "train_gpu.py", "--smoke", "--steps", "2", "--peak-tflops", "1", *options],
                          cwd=BENCH, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    row = re.compile(r"^\| ([a-zA-Z ]+) \| native \| ([\d.]+) \|.*\| ([\d.]+) \| ([\d.]+)% \|", re.M)
    rows = {m[0]: m[1:] for m in row.findall(done.stdout)}
    assert set(rows) == {"plain diffusers step", "cinefoundry TrainingLoop"}, done.stdout
    for seconds, tflop, mfu in rows.values():
        assert float(seconds) > 0 and float(tflop) >= 0 and float(mfu) >= 0
    checked = re.search(r"^\| native \| ([\d.e-]+) \| ([\d.e-]+) \| ([\d.e-]+) \| ([\d.e-]+) \|$", done.stdout, re.M)
    assert checked and all(0 < float(e) < 2e-2 for e in checked.groups()), done.stdout  # bf16 against float64
    assert (BENCH / "RESULTS.md").read_bytes() == results  # a smoke run records nothing


def test_train_gpu_profiles_our_steps_on_request_and_keeps_the_profiled_ones_out_of_the_timing() -> None:
    done = subprocess.run([sys.executable, "train_gpu.py", "--smoke", "--steps", "2", "--peak-tflops", "1", "--rows",
                           "ours", "--profile"], cwd=BENCH, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Self CPU time total" in done.stdout and "ProfilerStep*" in done.stdout  # the kernel table
    assert "| plain diffusers step |" not in done.stdout
    assert re.search(r"^\| cinefoundry TrainingLoop \| native \| [\d.]+ \|.*\| - \| - \|$", done.stdout, re.M)


def test_the_profilers_warm_up_and_profiled_steps_all_come_after_the_timed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The profiler's schedule, as each step asks it: the timed steps (after the warm-up ones) are never
    profiled, nor is the profiler's own warm-up among them."""
    bench = bench_module()
    actions = []
    schedule = torch.profiler.schedule

    def logged(**kwargs):
        decide = schedule(**kwargs)

        def action(step: int):
            actions.append((step, decide(step)))
            return decide(step)

        return action

    monkeypatch.setattr(torch.profiler, "schedule", logged)
    steps = 3
    torch.manual_seed(0)
    assert bench.our_steps(bench.SMOKE.build(), bench.SMOKE, steps, torch.device("cpu"), profile=True) > 0
    timed = range(bench.WARMUP, bench.WARMUP + steps)
    none = torch.profiler.ProfilerAction.NONE
    assert {a for s, a in actions if s in timed} == {none}, actions
    assert sum(a != none for s, a in dict(actions).items()) == 1 + bench.PROFILED  # warm-up, then the profiled


def test_a_kernel_that_cannot_run_is_reported_in_the_check_and_the_table() -> None:
    """cuDNN's attention on this CPU: the float64 check and both timing rows say it failed, and why."""
    bench = bench_module()
    lines = bench.kernel_errors(("native", "_native_cudnn"), torch.device("cpu"), tokens=32, heads=2, head_dim=8)
    assert lines[2].startswith("| native | ") and "failed" not in lines[2]
    assert lines[3].startswith("| _native_cudnn | failed: RuntimeError: ")
    rows = bench.measure(bench.SMOKE, 1, torch.device("cpu"), False, ("_native_cudnn", "native"))
    assert [(r.attention, r.seconds is None) for r in rows] == [("_native_cudnn", True)] * 2 + [("native", False)] * 2
    assert (
        rows[0].failed
        == "failed: InputError: recipe: attention '_native_cudnn' runs on CUDA GPUs only; this run is on cpu"
    )
    table = bench.table(rows, flops=2e12, tokens=1000, peak_tflops=1)
    assert table[2] == f"| plain diffusers step | _native_cudnn | {rows[0].failed} | | | 2.0 | | | - |"
    assert table[5].endswith(f"| {rows[2].seconds / rows[3].seconds:.2f}x | - |")  # against the plain row that ran


def test_a_step_that_runs_out_of_memory_is_reported_and_the_other_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mocked: a CPU cannot run out of GPU memory, so the plain step raises torch's OutOfMemoryError itself."""
    bench = bench_module()

    def out_of_memory(*_args) -> float:
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setitem(bench.STEPS, "plain", ("plain diffusers step", out_of_memory))
    rows = bench.measure(bench.SMOKE, 1, torch.device("cpu"), checkpointing=False)
    assert [r.seconds is None for r in rows] == [True, False] and rows[1].seconds > 0
    lines = bench.table(rows, flops=2e12, tokens=1000, peak_tflops=1)
    assert lines[2] == "| plain diffusers step | native | out of memory | | | 2.0 | | | - |"
    sec = rows[1].seconds
    assert lines[3] == (f"| cinefoundry TrainingLoop | native | {sec:.3f} | {1 / sec:.2f} | {1000 / sec:,.0f} | 2.0 | "
                        f"{2 / sec:.1%} | - | - |")  # fmt: skip


def test_step_flops_counts_each_weight_on_the_tokens_it_sees() -> None:
    """The MFU numerator, checked against a count by hand: block weights on the video tokens (forward 2, backward
    4 FLOPs per weight and token), cross-attention keys/values and the text embedder on the text tokens only,
    the patch embedding without an input gradient, attention 4 T (T + L) width per layer forward, 2x that back.
    Counted on the meta device, where attention is plain matmuls: no fused kernel's recompute is counted."""
    bench = bench_module()
    smoke = bench.SMOKE
    torch.manual_seed(0)
    model = smoke.build()
    counted = bench.step_flops(smoke)
    tokens, text_tokens = smoke.tokens, smoke.text[0]

    def weights(keep) -> int:
        return sum(p.numel() for n, p in model.named_parameters() if p.ndim == 2 and keep(n))

    def on_text(n: str) -> bool:
        return ".attn2.to_k" in n or ".attn2.to_v" in n

    video = weights(lambda n: n.startswith(("blocks.", "proj_out")) and not on_text(n))
    text = weights(on_text) + model.condition_embedder.text_embedder.linear_2.weight.numel()
    text_input = model.condition_embedder.text_embedder.linear_1.weight.numel()  # no gradient for its input
    cfg = model.config
    attention = 4 * tokens * (tokens + text_tokens) * cfg.num_attention_heads * cfg.attention_head_dim
    expected = (6 * video * tokens + 6 * text * text_tokens + 4 * text_input * text_tokens
                + 4 * model.patch_embedding.weight.numel() * tokens + 3 * attention * cfg.num_layers)  # fmt: skip
    assert abs(counted / expected - 1) < 0.01, (counted, expected)
