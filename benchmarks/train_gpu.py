"""Training throughput at Wan 2.1 T2V 1.3B geometry on one GPU: our step against a plain diffusers step.

Both train the same `WanTransformer3DModel` (30 layers, 12 heads x 128, FFN 8960) on 480x832, 81-frame
latents (21 x 60 x 104 after the Wan VAE; 32,760 tokens with patch 1x2x2) with random UMT5-size text
embeddings (512 x 4096), bf16, batch 1:
  (a) plain: bf16 autocast, eager modules, `torch.optim.AdamW` (foreach), whole-clip timestep;
  (b) ours: cinefoundry's `TrainingLoop` with the flow-matching loss, per-token timesteps and conditioning
      masks, per-block `torch.compile`, fused AdamW, EMA.
Reported: samples/s, tokens/s, model FLOPs utilisation (a step's model FLOPs, counted by torch's FLOP counter
with no recompute, over the GPU's datasheet dense bf16 peak), (b)/(a) and peak memory; a step that runs out of
memory is reported as such and the other still runs. Goal: MFU >= 45% and >= 1.3x the plain step.
Results go to RESULTS.md.

Run on a GPU: python benchmarks/train_gpu.py [--steps 20] [--peak-tflops 989] [--checkpointing]
    [--attention default|cudnn|flash|efficient]
`--smoke` runs both steps on the demo's small denoiser and tiny clips, on any device, and records nothing:
it checks that the script works before a GPU's time is spent on it (tests/test_train_gpu_benchmark.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from common import machine, record
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from cinefoundry.models.recipes import get_recipe
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


def our_steps(model: torch.nn.Module, geo: Geometry, steps: int, device: torch.device) -> float:
    """Seconds per step of cinefoundry's training loop (compiled blocks, fused AdamW, EMA)."""
    for block in model.blocks:
        block.compile()
    n = 4
    latents = torch.randn(n, *geo.latent)
    text = torch.randn(2, *geo.text)
    loss_fn = denoiser_loss_fn(latents, text, torch.ones(n, dtype=torch.long), get_recipe(geo.recipe).train, device)
    spec = StageSpec("bench", steps + WARMUP, 1, 1e-4, ema_decay=0.9999, log_every=10**9,
                     checkpoint_every=10**9, precision="bf16")  # fmt: skip
    loop = TrainingLoop(spec, model, loss_fn, n, Parallel(device=device), Path(tempfile.mkdtemp()))
    loop.save = lambda _elapsed: None  # the final checkpoint (20 GB at 1.3B) is not part of a step
    stamps = []

    class Clock:
        def begin(self, *_a) -> None: ...
        def end(self) -> None: ...
        def step(self, *_a) -> None:
            sync(device)
            stamps.append(time.perf_counter())

    loop.reporter = Clock()
    loop.run()
    gaps = [b - a for a, b in itertools.pairwise(stamps[WARMUP - 1 :])]
    return sum(gaps) / len(gaps)


@dataclass(frozen=True)
class Row:
    """One step's timing: seconds per step (None when it ran out of memory) and peak device memory."""

    name: str
    seconds: float | None
    peak_gib: float | None


def measure(geo: Geometry, steps: int, device: torch.device, checkpointing: bool) -> list[Row]:
    """The plain step and ours, each on a fresh model; a step that runs out of memory is a row that says so."""
    rows = []
    for name, run in (("plain diffusers step", plain_steps), ("cinefoundry TrainingLoop", our_steps)):
        torch.manual_seed(0)
        with device:  # built where it trains: initialising 1.4 B weights on the CPU would spend device time
            model = geo.build()
        if checkpointing:
            model.enable_gradient_checkpointing()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        try:
            seconds = run(model, geo, steps, device)
        except torch.OutOfMemoryError:
            seconds = None  # the other step may still fit: its row is worth the time already spent
        peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
        rows.append(Row(name, seconds, peak))
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def table(rows: list[Row], flops: float, tokens: int, peak_tflops: float) -> list[str]:
    """The markdown rows: s/step, samples/s, tokens/s, MFU, speed against the first (plain) row, peak memory."""
    header = "| step | s/step | samples/s | tokens/s | TFLOP/step | MFU | speed vs plain | peak GiB |"
    lines = [header, "|---" * 8 + "|"]
    base = rows[0].seconds
    for row in rows:
        peak = "-" if row.peak_gib is None else f"{row.peak_gib:.1f}"
        sec = row.seconds
        if sec is None:
            lines.append(f"| {row.name} | out of memory | | | {flops / 1e12:.1f} | | | {peak} |")
            continue
        mfu = flops / sec / (peak_tflops * 1e12)
        speed = "-" if base is None else f"{base / sec:.2f}x"
        lines.append(f"| {row.name} | {sec:.3f} | {1 / sec:.2f} | {tokens / sec:,.0f} | {flops / 1e12:.1f} | {mfu:.1%} "
                     f"| {speed} | {peak} |")  # fmt: skip
    return lines


CHECKPOINTED = ", gradient checkpointing (its recompute is not counted in MFU)"
# torch's own choice on Hopper is FlashAttention-2; cuDNN's kernel is the one to time against it there
ATTENTION = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100/H200 SXM: 989)")
    parser.add_argument("--smoke", action="store_true", help="tiny model and clips on any device; records nothing")
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing in both steps")
    parser.add_argument("--attention", choices=["default", *ATTENTION], default="default",
                        help="the attention kernel of both steps (default: torch's choice)")  # fmt: skip
    args = parser.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit("train_gpu.py needs a CUDA GPU (--smoke runs a tiny check anywhere)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    geo = SMOKE if args.smoke else WAN_1_3B
    flops = step_flops(geo)  # first: it takes seconds, and must not fail after the minutes of timing
    kernel = sdpa_kernel([ATTENTION[args.attention]]) if args.attention in ATTENTION else contextlib.nullcontext()
    with kernel:
        rows = measure(geo, args.steps, device, args.checkpointing)
    lines = table(rows, flops, geo.tokens, args.peak_tflops)
    if args.smoke:
        print("\n".join(lines))
        return
    c, f, h, w = geo.latent
    record("\n".join([
        f"## train_gpu ({geo.recipe} geometry, latents {c}x{f}x{h}x{w} = {geo.tokens:,} tokens, text "
        f"{geo.text[0]}x{geo.text[1]}, bf16, batch 1{CHECKPOINTED if args.checkpointing else ''}, attention "
        f"{args.attention}), {dt.date.today()}, "
        f"{machine()}, {torch.cuda.get_device_name()}, torch {torch.__version__}, peak {args.peak_tflops:g} TFLOP/s",
        "",
        *lines,
    ]) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
