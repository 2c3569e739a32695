"""Generation speed: cinefoundry's `StudioPipeline` against diffusers' `WanPipeline` on the same components.

Both pipelines get the same `WanTransformer3DModel`, the same scheduler config, prompts, embeddings, initial
noise (one generator per seed, as `StudioPipeline` draws it), steps and guidance, and return latents
(`output_type="latent"`); text encoding and the VAE decode are shared and timed once. Reported per clip:
seconds (text, denoising, decode, watermark embed), WanPipeline / ours, and the PSNR between the two
pipelines' decoded outputs (same math, so only numerical differences; goal >= 30 dB).

- CPU (default): a registered model folder (`--model-dir`), or the `demo` recipe with random weights at its
  64x64x17 geometry. Random weights time the same as trained ones: the work is the same dense fp32 kernels
  on tensors of the same shapes, whatever the values. Goal: ours never slower.
- GPU (`--device cuda`): Wan 2.1 T2V 1.3B geometry (480x832, 81 frames), random weights and random
  UMT5-size embeddings, bf16 (ours under autocast); `--compile` adds ours with compiled transformer blocks.
  Also a preview: 8 steps at 240x416x33. Goals: >= 2x WanPipeline, preview <= 5 s.

Run: python benchmarks/generate.py [--model-dir DIR] [--clips 4] [--steps 30] [--guidance 4.0] [--no-record]
     python benchmarks/generate.py --device cuda --clips 2 [--compile]   (about 1 min a clip per runner, eager)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from common import machine, record
from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline
from rich.console import Console
from rich.table import Table

from cinefoundry.generate.export import to_frames
from cinefoundry.generate.pipeline import StudioPipeline
from cinefoundry.models.bundle import ModelBundle, load_bundle, make_scheduler
from cinefoundry.models.recipes import get_recipe
from cinefoundry.models.text import TextEncoder, load_text_encoder
from cinefoundry.models.vae import decode
from cinefoundry.provenance.watermark import default_watermarker

PROMPTS = [
    "a wide shot of a forest at dawn, mist between the trees, slow dolly forward",
    "close-up of a knight in armour turning his head, torchlight, shallow depth of field",
    "an explosion in a city street at night, debris and smoke, handheld camera",
    "a small robot walking across a desert, long shadows, golden hour, tracking shot",
]
GPU_FRAMES, GPU_HW = 81, (480, 832)
PREVIEW_FRAMES, PREVIEW_HW, PREVIEW_STEPS = 33, (240, 416), 8
UMT5 = (512, 4096)  # Wan 2.1's text embeddings: tokens x width

Runner = Callable[[str, int, int, tuple[int, int, int, int]], torch.Tensor]


class PromptTable:
    """A stand-in text encoder returning embeddings computed beforehand: both pipelines get identical tensors."""

    def __init__(self, embeds: dict[str, torch.Tensor]):
        self.embeds = embeds

    def __call__(self, prompts: list[str]) -> torch.Tensor:
        return torch.stack([self.embeds[p] for p in prompts])


@dataclass
class Race:
    """Per-runner seconds and latents of each timed clip."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    latents: dict[str, list[torch.Tensor]] = field(default_factory=dict)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: torch.device) -> tuple[object, float]:
    """(result, seconds), the device synchronised on both sides."""
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0


def noise(shape: tuple[int, int, int, int], seed: int) -> torch.Tensor:
    """(1, C, F, H, W) initial noise exactly as `StudioPipeline._generate` draws it for `seed`."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))[None]


def encode_prompts(encoder: TextEncoder, prompts: list[str]) -> tuple[dict[str, torch.Tensor], float]:
    """Embeddings of each prompt and of the empty negative prompt, and seconds per clip ([prompt, ""] per call)."""
    embeds, secs = {}, []
    encoder([prompts[0], ""])  # warm-up
    for p in prompts:
        t0 = time.perf_counter()
        e = encoder([p, ""])
        secs.append(time.perf_counter() - t0)
        embeds[p], embeds[""] = e[0], e[1]
    return embeds, sum(secs) / len(secs)


def wan_text_gap(encoder: TextEncoder, bundle: ModelBundle, prompts: list[str], embeds: dict) -> float:
    """Max |difference| between WanPipeline's own prompt encoding, handed our tokenizer and encoder, and ours.

    WanPipeline calls tokenizer(..., padding="max_length") then text_encoder(ids, mask).last_hidden_state and
    zero-pads past each prompt's length: exactly what `TextEncoder` does, so passing our embeddings as
    prompt_embeds is what WanPipeline would compute itself.
    """
    wan = WanPipeline(tokenizer=encoder.tokenizer, text_encoder=encoder.model, vae=None,
                      scheduler=bundle.scheduler, transformer=bundle.transformer)  # fmt: skip
    pos, neg = wan.encode_prompt(prompts, negative_prompt="", max_sequence_length=encoder.config.max_length,
                                 device=torch.device("cpu"))  # fmt: skip
    ours = PromptTable(embeds)
    return max((pos - ours(prompts)).abs().max().item(), (neg - ours([""] * len(prompts))).abs().max().item())


def random_embeds(prompts: list[str]) -> dict[str, torch.Tensor]:
    """UMT5-size embeddings (512 x 4096), zero past a random prompt length (the negative prompt: 1 token)."""
    g = torch.Generator().manual_seed(0)
    out = {}
    for p in ["", *prompts]:
        n = 1 if p == "" else int(torch.randint(8, 64, (1,), generator=g))
        out[p] = torch.randn(UMT5, generator=g) * (torch.arange(UMT5[0]) < n)[:, None]
    return out


def cpu_setup(model_dir: str | None) -> tuple[ModelBundle, str, float, float | None]:
    """(bundle with a `PromptTable`, what it is, text seconds per clip, WanPipeline text-path gap)."""
    if model_dir:
        bundle = load_bundle(Path(model_dir))
        encoder, what = bundle.text, f"model {Path(model_dir).name} ({bundle.recipe.name} recipe, trained weights)"
    else:
        recipe = get_recipe("demo")
        torch.manual_seed(0)
        encoder = load_text_encoder(recipe.text)
        vae = recipe.vae.build().eval()
        shape = recipe.vae.latent_shape(17, 64, 64)
        transformer = recipe.denoiser.build(shape[0], recipe.text.dim).eval()
        bundle = ModelBundle(Path("random"), {"latent_shape": list(shape)}, recipe, vae, transformer, encoder,
                             make_scheduler(recipe.train.shift))  # fmt: skip
        what = "demo recipe, random weights, 64x64x17"
    embeds, text_s = encode_prompts(encoder, PROMPTS)
    gap = wan_text_gap(encoder, bundle, PROMPTS, embeds)
    bundle.text = PromptTable(embeds)
    return bundle, what, text_s, gap


def gpu_setup(device: torch.device) -> tuple[ModelBundle, str]:
    """Wan 2.1 T2V 1.3B geometry with random weights: bf16 transformer, fp32 Wan VAE, random embeddings."""
    recipe = get_recipe("wan-1.3b")
    shape = recipe.vae.latent_shape(GPU_FRAMES, *GPU_HW)
    torch.manual_seed(0)
    with device:
        transformer = recipe.denoiser.build(shape[0], UMT5[1]).eval()
        vae = recipe.vae.build().eval()
    # bf16 as from_pretrained(torch_dtype=bf16) leaves it: the model's fp32 modules (norms, time embedder) and
    # buffers (RoPE tables) stay fp32
    keep = transformer._keep_in_fp32_modules or []
    for name, p in transformer.named_parameters():
        if not any(k in name for k in keep):
            p.data = p.data.to(torch.bfloat16)
    bundle = ModelBundle(Path("random"), {"latent_shape": list(shape)}, recipe, vae, transformer,
                         PromptTable(random_embeds(PROMPTS)), make_scheduler(recipe.train.shift))  # fmt: skip
    return bundle, f"wan-1.3b geometry, random weights, {GPU_HW[0]}x{GPU_HW[1]}x{GPU_FRAMES}, bf16"


def runners(bundle: ModelBundle, device: torch.device, guidance: float) -> tuple[Runner, Runner]:
    """(ours, WanPipeline's): prompt, seed, steps, latent shape -> latents (1, C, F, H, W)."""
    pipe = StudioPipeline(bundle, device)
    # WanPipeline reads only the VAE's scale factors (4 and 8 without one) and decodes unless output_type="latent"
    wan = WanPipeline(tokenizer=None, text_encoder=None, vae=None, transformer=bundle.transformer,
                      scheduler=FlowMatchEulerDiscreteScheduler.from_config(bundle.scheduler.config))  # fmt: skip
    wan.set_progress_bar_config(disable=True)
    table: PromptTable = bundle.text  # type: ignore[assignment]
    amp = device.type == "cuda" and bundle.transformer.dtype != torch.float32

    def ours(prompt, seed, steps, shape):
        # StudioPipeline feeds fp32 latents and text: bf16 weights run under autocast, as training does
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
        with ctx:
            return pipe([prompt], seeds=[seed], steps=steps, guidance=guidance, latent_shape=shape, output="latent")

    def theirs(prompt, seed, steps, shape):
        _, f, h, w = shape  # pixel sizes that map back to this latent shape with the default factors 4 and 8
        return wan(prompt_embeds=table([prompt]).to(device), negative_prompt_embeds=table([""]).to(device),
                   latents=noise(shape, seed).to(device), height=8 * h, width=8 * w, num_frames=4 * (f - 1) + 1,
                   num_inference_steps=steps, guidance_scale=guidance, output_type="latent",
                   return_dict=False)[0]  # fmt: skip

    return ours, theirs


def race(named: dict[str, Runner], clips: int, steps: int, shape, device: torch.device) -> Race:
    """One warm-up call each, then `clips` timed clips, the runners' order rotated per clip (shared machines)."""
    for run in named.values():
        run(PROMPTS[0], 1000, min(2, steps), shape)
    out, names = Race(), list(named)
    for i in range(clips):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            lat, sec = timed(partial(named[name], PROMPTS[i % len(PROMPTS)], i, steps, shape), device)
            out.seconds.setdefault(name, []).append(sec)
            out.latents.setdefault(name, []).append(lat)
    return out


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of clips in [-1, 1] (peak-to-peak 2)."""
    mse = (a.float() - b.float()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(4.0 / mse)


def decode_compare(vae, result: Race, ref: str, device: torch.device) -> dict:
    """Decode every clip of every runner with the one VAE: decode and watermark seconds, PSNR against `ref`."""
    wm = default_watermarker()
    dec, marks, gaps, lat_gaps, spread = [], [], {}, {}, []
    wm.embed(to_frames(decode_cpu(vae, result.latents[ref][0])[0]), 0)  # warm-up of both
    for i, ref_lat in enumerate(result.latents[ref]):
        ref_video, sec = timed(partial(decode_cpu, vae, ref_lat), device)
        dec.append(sec)
        spread.append(ref_video.std().item())
        marks.append(timed(partial(wm.embed, to_frames(ref_video[0]), i + 1), torch.device("cpu"))[1])
        for name, lats in result.latents.items():
            if name != ref:
                gaps.setdefault(name, []).append(psnr(decode_cpu(vae, lats[i]), ref_video))
                rel = (lats[i].float() - ref_lat.float()).norm() / ref_lat.float().norm()
                lat_gaps.setdefault(name, []).append(rel.item())
    return {"decode": mean(dec), "watermark": mean(marks), "psnr": gaps, "latent_rel": lat_gaps,
            "video_std": mean(spread)}  # fmt: skip


def decode_cpu(vae, latents: torch.Tensor) -> torch.Tensor:
    """Clips (B, 3, F, H, W) on the CPU; WanPipeline's latents are bf16 with a bf16 model (its scheduler steps
    cast back to the prediction's dtype), ours fp32."""
    return decode(vae, latents.to(vae.dtype)).float().cpu()


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def report(title: str, what: str, args, rows: list[tuple[str, ...]], paragraph: str) -> None:
    """Print a rich table and (unless --no-record) append the markdown section to RESULTS.md."""
    head = ("measure", "ours (StudioPipeline)", "WanPipeline", "WanPipeline / ours", "goal")
    table = Table(title=f"{title}: {what}")
    for col in head:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)
    threads = torch.get_num_threads()
    lines = [f"## {title}, {dt.date.today()}, {machine()}, torch {torch.__version__}, {threads} threads",
             f"{what}; {args.clips} clips, {args.steps} steps, guidance {args.guidance}, 1 clip per call", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]  # fmt: skip
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", paragraph + (f" {args.note}" if args.note else "")]
    if args.no_record:
        print("\n".join(lines))
    else:
        record("\n".join(lines) + "\n")


def timing(measure: str, ours: float, wan: float, goal: str) -> tuple[str, ...]:
    """A table row of seconds for both pipelines and WanPipeline / ours (> 1: ours faster)."""
    return (measure, f"{ours:.3f}", f"{wan:.3f}", f"{wan / ours:.2f}x", goal)


def stats(xs: list[float]) -> str:
    return f"{mean(xs):.3f} (min {min(xs):.3f})"


def run_cpu(args) -> None:
    device = torch.device("cpu")
    bundle, what, text_s, gap = cpu_setup(args.model_dir)
    shape = bundle.latent_shape
    ours, theirs = runners(bundle, device, args.guidance)
    result = race({"ours": ours, "wan": theirs}, args.clips, args.steps, shape, device)
    cmp = decode_compare(bundle.vae, result, "ours", device)
    o, w = result.seconds["ours"], result.seconds["wan"]
    shared = text_s + cmp["decode"]
    db = cmp["psnr"]["wan"]
    rows = [
        ("text encoding s/clip (shared, timed once)", f"{text_s:.3f}", f"{text_s:.3f}", "", ""),
        ("denoising s/clip (mean, min)", stats(o), stats(w), f"{mean(w) / mean(o):.2f}x", "ours not slower"),
        ("VAE decode s/clip (shared)", f"{cmp['decode']:.3f}", f"{cmp['decode']:.3f}", "", ""),
        timing("total s/clip", mean(o) + shared, mean(w) + shared, "ours not slower"),
        ("watermark embed s/clip (after decode)", f"{cmp['watermark']:.3f}", "", "", ""),
        ("PSNR ours vs WanPipeline, decoded (mean, min)", f"{mean(db):.1f} / {min(db):.1f} dB", "", "", ">= 30 dB"),
        ("latents, relative L2 difference (max)", f"{max(cmp['latent_rel']['wan']):.1e}", "", "", ""),
        ("decoded output std (PSNR context)", f"{cmp['video_std']:.3f}", "", "", ""),
        ("WanPipeline text path on our encoder, max abs diff", f"{gap:.1e}", "", "", "0"),
    ]
    verdict = "met" if mean(o) <= mean(w) else "NOT met"
    paragraph = (
        f"What was compared: the denoising of one clip per call ({shape[1]}x{shape[2]}x{shape[3]} latents, "
        f"{shape[0]} channels) by our StudioPipeline (conditional and unconditional passes batched in one "
        f"transformer call, per-token timesteps) and by diffusers' WanPipeline (two transformer calls per step), "
        f"on one WanTransformer3DModel, one FlowMatchEulerDiscreteScheduler config, the same prompts, the same "
        f"text embeddings (computed once by our encoder and passed to WanPipeline as prompt_embeds / "
        f"negative_prompt_embeds; WanPipeline's own text path handed our tokenizer and encoder gives the same "
        f"tensors, max diff {gap:.0e}), the same initial noise (latents= drawn from the per-seed generators our "
        f"pipeline uses), {args.steps} steps, guidance {args.guidance}; both return latents, decoded by the one "
        f"VAE, whose time is counted once. One warm-up call each, then {args.clips} clips timed with "
        f"time.perf_counter, the order of the two pipelines alternating per clip; fp32 on "
        f"{torch.get_num_threads()} threads. Goal ours not slower: {verdict}; PSNR goal >= 30 dB: "
        f"{'met' if min(db) >= 30 else 'NOT met'}. Random weights time as trained ones do (same shapes, same "
        f"dense kernels)."
    )
    report("generate (CPU, demo geometry)" if bundle.recipe.name == "demo" else
           f"generate (CPU, {bundle.recipe.name} geometry)", what, args, rows, paragraph)  # fmt: skip


def run_gpu(args) -> None:
    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU here (torch.cuda.is_available() is False); nothing was run")
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    bundle, what = gpu_setup(device)
    recipe = bundle.recipe
    full, preview = bundle.latent_shape, recipe.vae.latent_shape(PREVIEW_FRAMES, *PREVIEW_HW)
    ours, theirs = runners(bundle, device, args.guidance)
    named = {"ours": ours, "wan": theirs}
    main_race = race(named, args.clips, args.steps, full, device)
    prev_race = race(named, args.clips, PREVIEW_STEPS, preview, device)
    if args.compile:
        for block in bundle.transformer.blocks:
            block.compile()
        for r, (steps, shape) in ((main_race, (args.steps, full)), (prev_race, (PREVIEW_STEPS, preview))):
            extra = race({"compiled": ours}, args.clips, steps, shape, device)
            r.seconds.update(extra.seconds)
            r.latents.update(extra.latents)
    cmp = decode_compare(bundle.vae, main_race, "wan", device)
    pcmp = decode_compare(bundle.vae, prev_race, "wan", device)
    w, pw, pd = mean(main_race.seconds["wan"]), mean(prev_race.seconds["wan"]), pcmp["decode"]
    rows = []
    for name, label in (("ours", "ours, eager"), ("compiled", "ours, compiled blocks")):
        if name not in main_race.seconds:
            continue
        o, po = main_race.seconds[name], prev_race.seconds[name]
        db = cmp["psnr"][name]
        rows += [
            (f"{label}: denoising s/clip", stats(o), f"{w:.3f}", f"{w / mean(o):.2f}x", ">= 2x"),
            timing(f"{label}: clip s (denoise + decode)", mean(o) + cmp["decode"], w + cmp["decode"], ""),
            timing(f"{label}: preview s ({PREVIEW_STEPS} steps + decode)", mean(po) + pd, pw + pd, "<= 5 s"),
            (f"{label}: PSNR vs WanPipeline (mean, min)", f"{mean(db):.1f} / {min(db):.1f} dB", "", "", ">= 30 dB"),
        ]
    rows += [
        ("VAE decode s/clip (shared; preview)", f"{cmp['decode']:.3f}; {pcmp['decode']:.3f}", "", "", ""),
        ("watermark embed s/clip (after decode)", f"{cmp['watermark']:.3f}", "", "", ""),
    ]
    paragraph = (
        f"Both pipelines share one bf16 WanTransformer3DModel (ours runs it under bf16 autocast, since it feeds "
        f"fp32 latents), one scheduler config, random UMT5-size embeddings passed as prompt_embeds (text encoding "
        f"not timed), the same per-seed initial noise passed as latents=, {args.steps} steps, guidance "
        f"{args.guidance}; both return latents, decoded by the one random-weight Wan VAE (fp32). Preview: "
        f"{PREVIEW_STEPS} steps at {PREVIEW_HW[0]}x{PREVIEW_HW[1]}x{PREVIEW_FRAMES}. One warm-up call per runner "
        f"and geometry (it also compiles); WanPipeline and eager ours alternate per clip."
    )
    report(f"generate (GPU, wan-1.3b geometry, {torch.cuda.get_device_name()})", what, args, rows, paragraph)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=None, help="a registered model folder (CPU; default: demo, random)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--compile", action="store_true", help="GPU: also ours with torch.compile'd blocks")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--note", default="", help="a sentence appended to the RESULTS.md paragraph")
    parser.add_argument("--no-record", action="store_true", help="print the section, do not append it")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.device == "cuda":
        run_gpu(args)
    else:
        run_cpu(args)


if __name__ == "__main__":
    main()
