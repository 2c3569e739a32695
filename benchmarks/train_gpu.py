"""Training throughput at Wan 2.1 T2V 1.3B geometry on one GPU: our step against a plain diffusers step.

Both train the same `WanTransformer3DModel` (30 layers, 12 heads x 128, FFN 8960) on 480x832, 81-frame
latents (21 x 60 x 104 after the Wan VAE; 32,760 tokens with patch 1x2x2) with random UMT5-size text
embeddings (512 x 4096), bf16, batch 1:
  (a) plain: bf16 autocast, eager modules, `torch.optim.AdamW` (foreach), whole-clip timestep;
  (b) ours: cinefoundry's `TrainingLoop` with the flow-matching loss, per-token timesteps and conditioning
      masks, per-block `torch.compile`, fused AdamW, EMA, set up by train/kernels.py as training sets it up
      (with --checkpointing: ours keeps attention's outputs, or with `--checkpointing full` recomputes whole
      blocks as the plain step always does).
Each attention kernel asked for (diffusers' backends; by default torch's own choice, the training default) gets
both rows. Before the timing, each kernel's output and gradients are checked against a float64 reference.
At 32,760 tokens the plain step fits an H200 (139 GiB) only with gradient checkpointing; ours fits without,
so one session times both checkpointed, then ours alone without (`--rows ours`): benchmarks/gpu_session.sh.
Reported: samples/s, tokens/s, model FLOPs utilisation (a step's model FLOPs, counted by torch's FLOP counter
with no recompute, over the GPU's datasheet dense bf16 peak), speed against the first plain row that ran, and
peak memory; a step that fails (out of memory, say) is reported as such and the others still run.
Goal: MFU >= 45% and >= 1.3x the plain step. Results go to RESULTS.md.

Run on a GPU: python benchmarks/train_gpu.py [--steps 20] [--peak-tflops 989] [--checkpointing [full]]
    [--attention native _native_cudnn ...] [--rows plain ours] [--profile]
`--smoke` runs both steps on the demo's small denoiser and tiny clips, on any device, and records nothing:
it checks that the script works before a GPU's time is spent on it (tests/test_train_gpu_benchmark.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import itertools
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from common import machine, record
from diffusers.models.attention_dispatch import AttentionBackendName, dispatch_attention_fn
from torch.utils.flop_counter import FlopCounterMode

from cinefoundry.models.recipes import get_recipe
from cinefoundry.train.kernels import CHOICES, NATIVE, prepare_denoiser
from cinefoundry.train.loop import StageSpec, TrainingLoop
from cinefoundry.train.parallel import Parallel
from cinefoundry.train.stages import denoiser_loss_fn

WARMUP = 3  # steps excluded from the timing (allocations, autotuning, compilation)


@dataclass(frozen=True)
class Geometry:
    """A model and the shapes it trains on: latent (C, F, H, W) and text embeddings (L, D), batch 1."""

    recipe: str
    latent: tuple[int, int, int, int]
    text: tuple[int, int]

    @property
    def tokens(self) -> int:
        """Video tokens per sample after patching."""
        p = get_recipe(self.recipe).denoiser.patch_size
        return (self.latent[1] // p[0]) * (self.latent[2] // p[1]) * (self.latent[3] // p[2])

    def build(self) -> torch.nn.Module:
        return get_recipe(self.recipe).denoiser.build(self.latent[0], self.text[1])


# 81 frames at 480x832 through the Wan VAE (4x time, 8x space), UMT5-XXL's 512 x 4096 text embeddings
WAN_1_3B = Geometry("wan-1.3b", (16, 21, 60, 104), (512, 4096))
SMOKE = Geometry("demo", (16, 5, 16, 16), (8, 384))


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so wall-clock stamps time it."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_flops(geo: Geometry) -> float:
    """Model FLOPs of one training step (forward and backward), counted by torch's FLOP counter.

    Counted, not estimated: 6 x params x tokens would also charge the video tokens for the cross-attention
    key/value and text-embedding weights, which only see the 512 text tokens (about 11% of Wan 1.3B's weights).
    Counted on the meta device: shapes are all a count needs, so it costs no device memory or time, and there
    attention runs as plain matmuls. The fused kernels a GPU runs recompute Q K^T in their backward, which torch's
    formulas for them count (5 matmuls back for 2 forward): work done, but not model FLOPs, as MFU defines them.
    """
    with torch.device("meta"):
        model = geo.build()
        x, text = torch.randn(1, *geo.latent), torch.randn(1, *geo.text)
        with FlopCounterMode(display=False) as counter:
            model(x, torch.full((1,), 500.0), text, return_dict=False)[0].float().mean().backward()
    return float(counter.get_total_flops())


def plain_steps(model: torch.nn.Module, geo: Geometry, steps: int, device: torch.device) -> float:
    """Seconds per step of a textbook diffusers training step."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x0 = torch.randn(1, *geo.latent, device=device)
    text = torch.randn(1, *geo.text, device=device)
    times = []
    for i in range(steps + WARMUP):
        sync(device)
        t0 = time.perf_counter()
        noise = torch.randn_like(x0)
        sigma = torch.rand(1, device=device)
        xt = (1 - sigma.view(-1, 1, 1, 1, 1)) * x0 + sigma.view(-1, 1, 1, 1, 1) * noise
        with torch.autocast(device.type, dtype=torch.bfloat16):
            pred = model(xt, sigma * 1000, text, return_dict=False)[0]
        loss = (pred.float() - (noise - x0)).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        if i >= WARMUP:
            times.append(time.perf_counter() - t0)
    return sum(times) / len(times)


def our_steps(model: torch.nn.Module, geo: Geometry, steps: int, device: torch.device, profile: bool = False) -> float:
    """Seconds per step of cinefoundry's training loop (fused AdamW, EMA; blocks compiled by `measure`).
    `profile`: two more steps under torch's profiler, left out of the timing, and its table of kernels printed."""
    n = 4
    latents = torch.randn(n, *geo.latent)
    text = torch.randn(2, *geo.text)
    loss_fn = denoiser_loss_fn(latents, text, torch.ones(n, dtype=torch.long), get_recipe(geo.recipe).train, device)
    spec = StageSpec("bench", steps + WARMUP + (1 + PROFILED) * profile, 1, 1e-4, ema_decay=0.9999, log_every=10**9,
                     checkpoint_every=10**9, precision="bf16")  # fmt: skip
    loop = TrainingLoop(spec, model, loss_fn, n, Parallel(device=device), Path(tempfile.mkdtemp()))
    loop.save = lambda _elapsed: None  # the final checkpoint (20 GB at 1.3B) is not part of a step
    stamps = []
    activities = [torch.profiler.ProfilerActivity.CPU] + [torch.profiler.ProfilerActivity.CUDA] * (
        device.type == "cuda"
    )
    # the profiler's warm-up step and the profiled ones all come after the timed steps
    schedule = torch.profiler.schedule(wait=steps + WARMUP, warmup=1, active=PROFILED, repeat=1)
    profiler = torch.profiler.profile(activities=activities, schedule=schedule) if profile else None

    class Clock:
        def begin(self, *_a) -> None: ...
        def end(self) -> None: ...
        def step(self, *_a) -> None:
            sync(device)
            stamps.append(time.perf_counter())
            if profiler is not None:
                profiler.step()

    loop.reporter = Clock()
    with profiler or contextlib.nullcontext():
        loop.run()
    if profiler is not None:
        key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(profiler.key_averages().table(sort_by=key, row_limit=30, max_name_column_width=90), flush=True)
    timed = stamps[WARMUP - 1 : WARMUP + steps]
    gaps = [b - a for a, b in itertools.pairwise(timed)]
    return sum(gaps) / len(gaps)


def failure(exc: Exception) -> str:
    """A table cell for a step or kernel that failed: the error's type and first line."""
    first = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"failed: {type(exc).__name__}: {first}"


@dataclass(frozen=True)
class Row:
    """One step's timing: seconds per step (None when it failed, with the reason) and peak device memory."""

    name: str
    attention: str
    seconds: float | None
    peak_gib: float | None
    failed: str = ""


STEPS = {"plain": ("plain diffusers step", plain_steps), "ours": ("cinefoundry TrainingLoop", our_steps)}
PROFILED = 2  # steps under the profiler (--profile)


def measure(geo: Geometry, steps: int, device: torch.device, checkpointing: str | None,
            attention: tuple[str, ...] = (NATIVE,), which: tuple[str, ...] = tuple(STEPS),
            profile: bool = False) -> list[Row]:  # fmt: skip
    """The plain step and ours (`which`) for each attention kernel, each on a fresh model; a step that fails is a
    row that says why, and the others still run (their rows are worth the time already spent)."""
    rows = []
    for backend in attention:
        for key in which:
            name, run = STEPS[key]
            ours = key == "ours"
            if ours and profile:
                run = functools.partial(our_steps, profile=True)
            torch.manual_seed(0)
            torch._dynamo.reset()  # each row compiles afresh: no row inherits another's graphs or guards
            with device:  # built where it trains: initialising 1.4 B weights on the CPU would spend device time
                model = geo.build()
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            seconds, failed = None, ""
            try:
                # the plain step checkpoints as diffusers does, whole blocks ("full"); ours as asked
                mode = checkpointing if ours else checkpointing and "full"
                prepare_denoiser(model, backend, compile_blocks=ours, device=device, checkpointing=mode)
                seconds = run(model, geo, steps, device)
            except torch.OutOfMemoryError:
                failed = "out of memory"
            except Exception as exc:  # a kernel or compiler failure is a result here
                failed = failure(exc)
            peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
            rows.append(Row(name, backend, seconds, peak, failed))
            print(rows[-1], flush=True)  # a run cut short still shows what it measured
            del model
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def table(rows: list[Row], flops: float, tokens: int, peak_tflops: float) -> list[str]:
    """The markdown rows: s/step, samples/s, tokens/s, MFU, speed against the first plain row that ran, peak GiB."""
    header = "| step | attention | s/step | samples/s | tokens/s | TFLOP/step | MFU | speed vs plain | peak GiB |"
    lines = [header, "|---" * 9 + "|"]
    base = next((r.seconds for r in rows if r.name == STEPS["plain"][0] and r.seconds), None)
    for row in rows:
        peak = "-" if row.peak_gib is None else f"{row.peak_gib:.1f}"
        sec = row.seconds
        if sec is None:
            lines.append(f"| {row.name} | {row.attention} | {row.failed} | | | {flops / 1e12:.1f} | | | {peak} |")
            continue
        mfu = flops / sec / (peak_tflops * 1e12)
        speed = "-" if base is None else f"{base / sec:.2f}x"
        lines.append(f"| {row.name} | {row.attention} | {sec:.3f} | {1 / sec:.2f} | {tokens / sec:,.0f} "
                     f"| {flops / 1e12:.1f} | {mfu:.1%} | {speed} | {peak} |")  # fmt: skip
    return lines


def kernel_errors(attention: tuple[str, ...], device: torch.device, tokens: int, heads: int,
                  head_dim: int) -> list[str]:  # fmt: skip
    """Each kernel's output and gradients in bf16 against float64 attention, as relative errors ||x - ref|| /
    ||ref|| (bf16 lands near 3e-3): a fast kernel that computes something else must not win the table."""
    gen = torch.Generator(device).manual_seed(0)
    q, k, v, up = (torch.randn(1, tokens, heads, head_dim, device=device, generator=gen) for _ in range(4))

    def run(qkv: list[torch.Tensor], backend: str | None) -> list[torch.Tensor]:
        qkv = [x.detach().requires_grad_() for x in qkv]
        if backend is None:  # the reference: float64 through torch's math kernel, (B, H, S, D) layout
            out = torch.nn.functional.scaled_dot_product_attention(*(x.transpose(1, 2) for x in qkv)).transpose(1, 2)
        else:
            out = dispatch_attention_fn(*qkv, backend=AttentionBackendName(backend))
        out.backward(up.to(out.dtype))
        return [out.detach().double()] + [x.grad.double() for x in qkv]

    ref = run([x.double() for x in (q, k, v)], None)
    lines = ["| attention | output | dq | dk | dv |", "|---" * 5 + "|"]
    for backend in attention:
        try:
            got = run([x.bfloat16() for x in (q, k, v)], backend)
            errors = [f"{((g - r).norm() / r.norm()).item():.1e}" for g, r in zip(got, ref, strict=True)]
        except Exception as exc:  # reported; its timing rows will say the same
            errors = [failure(exc), "", "", ""]
        lines.append(f"| {backend} | " + " | ".join(errors) + " |")
    return lines


CHECKPOINTED = ", gradient checkpointing ({}; its recompute is not counted in MFU)"
CHECK_TOKENS = 4096  # the kernel check's sequence: float64 attention at 32k tokens would need 100 GiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100/H200 SXM: 989)")
    parser.add_argument("--smoke", action="store_true", help="tiny model and clips on any device; records nothing")
    parser.add_argument(
        "--checkpointing",
        nargs="?",
        const="selective",
        choices=["selective", "full"],
        help="gradient checkpointing in both steps: ours selective (default) or full",
    )
    parser.add_argument(
        "--attention",
        nargs="+",
        choices=CHOICES,
        metavar="BACKEND",
        default=[NATIVE],
        help="diffusers attention backends, each timed in both steps",
    )
    parser.add_argument(
        "--rows",
        nargs="+",
        choices=list(STEPS),
        default=list(STEPS),
        help="which steps to time (the plain step at 32k tokens needs checkpointing to fit)",
    )
    parser.add_argument("--profile", action="store_true", help="print a kernel table of two more of our steps")
    args = parser.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit("train_gpu.py needs a CUDA GPU (--smoke runs a tiny check anywhere)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    attention = tuple(args.attention)
    geo = SMOKE if args.smoke else WAN_1_3B
    flops = step_flops(geo)  # first: it takes seconds, and must not fail after the minutes of timing
    cfg = get_recipe(geo.recipe).denoiser
    checked = kernel_errors(attention, device, CHECK_TOKENS if not args.smoke else 64, cfg.num_attention_heads,
                            cfg.attention_head_dim)  # fmt: skip
    print("\n".join(checked), flush=True)
    rows = measure(geo, args.steps, device, args.checkpointing, attention, tuple(args.rows), args.profile)
    lines = table(rows, flops, geo.tokens, args.peak_tflops)
    if args.smoke:
        print("\n".join(lines))
        return
    c, f, h, w = geo.latent
    checkpointed = CHECKPOINTED.format(args.checkpointing) if args.checkpointing else ""
    record("\n".join([
        f"## train_gpu ({geo.recipe} geometry, latents {c}x{f}x{h}x{w} = {geo.tokens:,} tokens, text "
        f"{geo.text[0]}x{geo.text[1]}, bf16, batch 1{checkpointed}), "
        f"{dt.date.today()}, {machine()}, {torch.cuda.get_device_name()}, torch {torch.__version__}, "
        f"peak {args.peak_tflops:g} TFLOP/s",
        "",
        *lines,
        "",
        f"Each kernel against float64 attention ({CHECK_TOKENS} tokens, relative error, bf16):",
        "",
        *checked,
    ]) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
