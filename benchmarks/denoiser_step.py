"""One denoiser training step of the demo recipe on this machine: diffusers' per-token timesteps against ours.

The same weights and batch (16 windows of 9x8x8 latents, 48 text tokens) step through, interleaved round by
round so that a VM's speed swings fall on every variant alike:
1. diffusers' WanTransformer3DModel with per-token timesteps and the per-tensor AdamW (the code before);
2. per-frame timesteps (models/frame_timesteps.py) with diffusers' RoPE;
3. 2 with our RoPE (x * cos + pair-swapped x * signed sin);
4. 3 with the fused AdamW (what training runs).
Prints median step times and speed-ups over 1 (ratios of summed times). Results are appended to RESULTS.md.

Run: python benchmarks/denoiser_step.py [--rounds 30] [--no-record]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import statistics
import time

import torch
from common import machine, record
from diffusers import WanTransformer3DModel
from diffusers.models.transformers.transformer_wan import WanAttnProcessor

from cinefoundry.models.recipes import get_recipe

BATCH, CHANNELS, FRAMES, SIDE, TEXT_LEN, TEXT_DIM = 16, 16, 9, 8, 48, 384


def variants() -> list[tuple[str, torch.nn.Module, bool, bool]]:
    """(name, model, per-frame timesteps, fused AdamW), all with the same weights."""
    torch.manual_seed(0)
    ours = get_recipe("demo").denoiser.build(CHANNELS, TEXT_DIM)
    plain = WanTransformer3DModel.from_config(ours.config)
    plain.load_state_dict(ours.state_dict())
    diffusers_rope = copy.deepcopy(ours)
    diffusers_rope.set_attn_processor(WanAttnProcessor())
    return [
        ("diffusers, per-token timesteps, AdamW loop", plain, False, False),
        ("per-frame timesteps, diffusers' RoPE", diffusers_rope, True, False),
        ("per-frame timesteps, our RoPE", ours, True, False),
        ("per-frame, our RoPE, fused AdamW", copy.deepcopy(ours), True, True),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, CHANNELS, FRAMES, SIDE, SIDE, generator=gen)
    text = torch.randn(BATCH, TEXT_LEN, TEXT_DIM, generator=gen)
    frame_t = torch.rand(BATCH, FRAMES, generator=gen) * 1000
    token_t = frame_t.repeat_interleave((SIDE // 2) ** 2, dim=1)
    runs = variants()
    opts = [torch.optim.AdamW(m.parameters(), lr=1e-3, fused=fused) for _, m, _, fused in runs]
    times: dict[str, list[float]] = {name: [] for name, *_ in runs}
    for r in range(args.rounds + 3):  # the first three rounds warm up
        for (name, model, per_frame, _), opt in zip(runs, opts, strict=True):
            start = time.perf_counter()
            pred = model(x, frame_t if per_frame else token_t, text, return_dict=False)[0]
            (pred - x).square().mean().backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if r >= 3:
                times[name].append(time.perf_counter() - start)
    base = sum(times[runs[0][0]])
    rows = [f"| {name} | {1000 * statistics.median(t):.1f} ms | {base / sum(t):.2f}x |" for name, t in times.items()]
    text_out = (
        f"## denoiser_step (demo recipe), {dt.date.today()}, {machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads\n"
        f"batch {BATCH} x {FRAMES * (SIDE // 2) ** 2} tokens, {args.rounds} interleaved rounds\n\n"
        "| variant | median step | speed-up |\n|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    if args.no_record:
        print(text_out)
    else:
        record(text_out)


if __name__ == "__main__":
    main()
