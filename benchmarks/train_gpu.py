"""Training throughput at Wan 2.1 T2V 1.3B geometry on one GPU: our step against a plain diffusers step.

Both train the same `WanTransformer3DModel` (30 layers, 12 heads x 128, FFN 8960) on 480x832, 81-frame
latents (21 x 60 x 104 after the Wan VAE; 32,760 tokens with patch 1x2x2) with random UMT5-size text
embeddings (512 x 4096), bf16, batch 1:
  (a) plain: bf16 autocast, eager modules, `torch.optim.AdamW` (foreach), whole-clip timestep;
  (b) ours: cinefoundry's `TrainingLoop` with the flow-matching loss, per-token timesteps and conditioning
      masks, per-block `torch.compile`, fused AdamW, EMA.
Reported: samples/s, tokens/s, model FLOPs utilisation (6 x params x tokens + attention, over the GPU's
dense bf16 peak), and (b)/(a). Goal: MFU >= 45% and >= 1.3x the plain step. Results go to RESULTS.md.

Run on a GPU: python benchmarks/train_gpu.py [--steps 20] [--peak-tflops 989]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import tempfile
import time
from pathlib import Path

import torch
from common import machine, record

from cinefoundry.models.recipes import get_recipe
from cinefoundry.train.loop import StageSpec, TrainingLoop
from cinefoundry.train.parallel import Parallel
from cinefoundry.train.stages import denoiser_loss_fn

LATENT = (16, 21, 60, 104)  # 81 frames at 480x832 through the Wan VAE (4x time, 8x space)
TEXT = (512, 4096)


def flops_per_sample(model: torch.nn.Module, tokens: int, text_tokens: int) -> float:
    """Training FLOPs of one sample: 6 N T for the weights, plus self- and cross-attention score/value products."""
    cfg = model.config
    params = sum(p.numel() for p in model.parameters())
    width = cfg.num_attention_heads * cfg.attention_head_dim
    attention = 4 * tokens * (tokens + text_tokens) * width * cfg.num_layers  # QK^T and AV, forward
    return 6 * params * tokens + 3 * attention


def plain_steps(model: torch.nn.Module, steps: int, device: torch.device) -> float:
    """Seconds per step of a textbook diffusers training step."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x0 = torch.randn(1, *LATENT, device=device)
    text = torch.randn(1, *TEXT, device=device)
    times = []
    for i in range(steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        noise = torch.randn_like(x0)
        sigma = torch.rand(1, device=device)
        xt = (1 - sigma.view(-1, 1, 1, 1, 1)) * x0 + sigma.view(-1, 1, 1, 1, 1) * noise
        with torch.autocast("cuda", dtype=torch.bfloat16):
            pred = model(xt, sigma * 1000, text, return_dict=False)[0]
        loss = (pred.float() - (noise - x0)).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        if i >= 3:  # warm-up steps excluded
            times.append(time.perf_counter() - t0)
    return sum(times) / len(times)


def our_steps(model: torch.nn.Module, steps: int, device: torch.device) -> float:
    """Seconds per step of cinefoundry's training loop (compiled blocks, fused AdamW, EMA)."""
    recipe = get_recipe("wan-1.3b")
    for block in model.blocks:
        block.compile()
    n = 4
    latents = torch.randn(n, *LATENT)
    text = torch.randn(2, *TEXT)
    loss_fn = denoiser_loss_fn(latents, text, torch.ones(n, dtype=torch.long), recipe.train, device)
    spec = StageSpec("bench", steps + 3, 1, 1e-4, 0, 0.0, 0.9999, None, 0, 10**9, 10**9, "bf16")
    loop = TrainingLoop(spec, model, loss_fn, n, Parallel(device=device), Path(tempfile.mkdtemp()))
    stamps = []

    class Clock:
        def begin(self, *_a) -> None: ...
        def end(self) -> None: ...
        def step(self, *_a) -> None:
            torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    loop.reporter = Clock()
    loop.run()
    gaps = [b - a for a, b in itertools.pairwise(stamps[3:])]
    return sum(gaps) / len(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100/H200 SXM: 989)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("train_gpu.py needs a CUDA GPU")
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    recipe = get_recipe("wan-1.3b")
    tokens = LATENT[1] * (LATENT[2] // 2) * (LATENT[3] // 2)
    rows = []
    for name, run in (("plain diffusers step", plain_steps), ("cinefoundry TrainingLoop", our_steps)):
        torch.manual_seed(0)
        model = recipe.denoiser.build(LATENT[0], TEXT[1]).to(device)
        flops = flops_per_sample(model, tokens, TEXT[0])
        sec = run(model, args.steps, device)
        rows.append((name, sec, flops))
        del model
        torch.cuda.empty_cache()
    base = rows[0][1]
    lines = [
        f"## train_gpu (wan-1.3b geometry, 480x832x81, bf16, batch 1), {dt.date.today()}, {machine()}, "
        f"{torch.cuda.get_device_name()}, torch {torch.__version__}",
        "",
        "| step | s/step | samples/s | tokens/s | MFU | speed vs plain |",
        "|---|---|---|---|---|---|",
    ]
    for name, sec, flops in rows:
        mfu = flops / sec / (args.peak_tflops * 1e12)
        lines.append(f"| {name} | {sec:.3f} | {1 / sec:.2f} | {tokens / sec:,.0f} | {mfu:.1%} | {base / sec:.2f}x |")
    record("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
