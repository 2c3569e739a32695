"""`cinefoundry train`: VAE, caches, denoiser, then a registered model folder; resumable at every stage.

Runs in one process or under `torchrun` (every rank runs this; rank 0 alone touches the database, the
caches and the model folder). A rerun with the same request continues where the last one stopped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cinefoundry.core.errors import CinefoundryError, InputError
from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.dataset.build import latest_version
from cinefoundry.dataset.cache import ArrayCache, text_item, window_item
from cinefoundry.dataset.samples import Windows, WindowSpec, load_windows, mirror_caption, mirror_videos
from cinefoundry.evaluate.reconstruction import psnr
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.models.bundle import load_bundle, save_bundle
from cinefoundry.models.recipes import Recipe, TrainConfig
from cinefoundry.models.text import load_text_encoder
from cinefoundry.models.vae import encode, reconstruct, set_latent_stats
from cinefoundry.registry.registry import find_model, register_model
from cinefoundry.train import stages
from cinefoundry.train.init import InitSource, resolve_init
from cinefoundry.train.kernels import attention_backend, checkpointing_mode, prepare_denoiser
from cinefoundry.train.loop import (
    StageResult,
    StageSpec,
    TrainingLoop,
    bf16_is_faster,
    cpu_bf16_is_measured,
    uses_bf16,
)
from cinefoundry.train.lora import add_lora, lora_state_dict
from cinefoundry.train.parallel import Parallel
from cinefoundry.workspace import Workspace


@dataclass
class TrainRequest:
    """What to train: a dataset version with a recipe, optionally from a model or local weights, or as LoRA."""

    dataset: str
    recipe: Recipe
    name: str | None = None
    init_from: str | None = None  # a registered model (name, name@vN, id) or a local diffusers folder
    lora_rank: int | None = None
    stop_after: int | None = None  # stop each stage after this many steps in this process (as if killed)

    def fingerprint(self, content_hash: str) -> str:
        recipe = self.recipe.as_dict()
        for key in SPEED_ONLY:  # a run that ran out of memory resumes with checkpointing turned on
            recipe["train"].pop(key, None)
        doc = {"dataset": content_hash, "recipe": recipe, "init": self.init_from, "lora": self.lora_rank}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]


# training settings that change speed and memory, not the numbers: the same run folder, so a rerun resumes
SPEED_ONLY = ("attention", "compile", "gradient_checkpointing")


@dataclass
class TrainReport:
    """The outcome: the registered model (None until every stage finished) and each stage's numbers."""

    model: dict[str, Any] | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    losses: dict[str, list[float]] = field(default_factory=dict)
    run_folder: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "stages": self.stages, "run_folder": self.run_folder,
                "seconds": round(self.seconds, 1)}  # fmt: skip


def train_model(ws: Workspace, request: TrainRequest, par: Parallel | None = None,
                reporter: Reporter = SILENT) -> TrainReport:  # fmt: skip
    """Train and register a model; see the module docstring."""
    par = par or Parallel()
    started = time.perf_counter()
    recipe, cfg = request.recipe, request.recipe.train
    torch.manual_seed(cfg.seed)
    with ws.session("train.read") as s:
        version = latest_version(s, request.dataset)
        windows = load_windows(ClipCatalog(ws.clips_uri), ws.store, version, WindowSpec.of(version, stride=1),
                               holdout=cfg.holdout)  # fmt: skip
        init = resolve_init(s, ws.home, request.init_from)
        dataset_label, content_hash = version.label, version.content_hash
    run = ws.home / "runs" / f"{dataset_label}-{recipe.name}-{request.fingerprint(content_hash)}"
    report = TrainReport(run_folder=str(run))
    train_w = windows.train
    if len(train_w) < cfg.batch:
        raise CinefoundryError(f"dataset {dataset_label} has {len(train_w)} training windows; the recipe's batch "
                               f"is {cfg.batch}: use a bigger dataset or a smaller batch")  # fmt: skip

    text_cfg = init.text_config or recipe.text
    recipe = replace(recipe, vae=recipe.vae if init.vae is None else init.vae_config, text=text_cfg)
    _check_shapes(recipe, windows)
    # a kernel or checkpointing the run cannot use fails here, not after the VAE stage
    attention_backend(cfg.attention, par.device, uses_bf16(cfg.precision, par.device))
    checkpointing_mode(cfg.gradient_checkpointing)
    text = load_text_encoder(text_cfg)
    vae = init.vae if init.vae is not None else _vae_stage(recipe, train_w, windows, run, par, request, report,
                                                           reporter)  # fmt: skip
    if vae is None:
        return report  # stopped early (tests): a rerun resumes
    vae = vae.to(par.device).eval().requires_grad_(False)
    bf16 = encodes_in_bf16(cfg, vae, windows, par)
    latents, eval_latents = _latents(ws, vae, windows, par, reporter, bf16)
    phrases = stages.title_phrases(train_w.captions, train_w.title_ids)
    mirror_captions = [mirror_caption(c) for c in train_w.captions] if cfg.flip else []
    captions = ["", *sorted(set(train_w.captions) | set(mirror_captions) | {p for p in phrases.values() if p})]
    table = _texts(ws, text, captions, par)
    row = {c: i for i, c in enumerate(captions)}
    index = torch.tensor([row[c] for c in train_w.captions])
    # a title without shared words keeps its own caption when the recipe asks for the title's words only
    title_index = torch.tensor([row[phrases[t] or c] for c, t in zip(train_w.captions, train_w.title_ids, strict=True)])

    transformer = init.transformer
    if transformer is None:
        transformer = recipe.denoiser.build(latents.shape[1], text_cfg.dim)
    if request.lora_rank:
        add_lora(transformer, request.lora_rank)
    attention = prepare_denoiser(transformer, cfg.attention, cfg.compile, par.device, cfg.gradient_checkpointing)
    order = balanced_order(train_w.title_ids, cfg.title_balance)
    # the extra buckets and the mirrored windows serve training only: held-out windows are not encoded for them
    extra = [_latents(ws, vae, train_w.at(*bucket), par, reporter, bf16)[0] for bucket in cfg.buckets]
    mirror = None
    if cfg.flip:
        mirrored = _latents(ws, vae, train_w, par, reporter, bf16, mirrored=True)[0]
        mirror = (mirrored, torch.tensor([row[c] for c in mirror_captions]))
    losses = [stages.denoiser_loss_fn(z, table, index, cfg, par.device, title_index, mirror if i == 0 else None)
              for i, z in enumerate((latents, *extra))]  # fmt: skip
    loss_fn = stages.through(order, stages.bucketed(losses, cfg.bucket_share))
    spec = StageSpec("denoiser", cfg.steps, cfg.batch, cfg.lr if not request.lora_rank else cfg.lr * 0.5,
                     cfg.warmup, cfg.weight_decay, cfg.ema_decay, denoiser_seconds(cfg, run, started, par),
                     cfg.seed, cfg.log_every, cfg.checkpoint_every, cfg.precision, min_steps=cfg.min_steps)  # fmt: skip
    loop = TrainingLoop(spec, transformer, loss_fn, len(order), par, run, reporter, request.stop_after)
    result = loop.run()
    _record(report, "denoiser", result, par)
    report.stages["denoiser"]["attention"] = attention
    if not loop.finished:
        return report
    weights = loop.ema_state_dict()
    if par.sharded:  # FSDP2 sharded the modules in place: rebuild a whole one for saving
        transformer = _unsharded(transformer, request.lora_rank)
    if par.is_main:
        transformer.load_state_dict(weights)
        report.model = _register(ws, request, recipe, init, vae, transformer, text, windows, latents, eval_latents,
                                 dataset_label, run)  # fmt: skip
    par.barrier()
    report.seconds = time.perf_counter() - started
    return report


def _check_shapes(recipe: Recipe, windows: Windows) -> None:
    """Every extra bucket must fit the VAE (frames tk+1, sizes in its factor) and the patch, and the VAE's
    training crops its factor, before any work."""
    _, ph, pw = recipe.denoiser.patch_size
    crop, factor = recipe.train.vae_crop, recipe.vae.spatial_factor
    if crop is not None and (crop <= 0 or crop % factor):
        raise InputError("recipe", f"vae_crop {crop}: the VAE's crops must be a positive multiple of {factor} px")
    for frames, height, width in recipe.train.buckets:
        if frames > windows.spec.frames:
            raise InputError("recipe", f"bucket {frames}x{height}x{width} is longer than the dataset's "
                             f"{windows.spec.frames}-frame windows")  # fmt: skip
        try:
            _, _, h, w = recipe.vae.latent_shape(frames, height, width)
        except ValueError as exc:
            raise InputError("recipe", f"bucket {frames}x{height}x{width}: {exc}") from None
        if h % ph or w % pw:
            raise InputError("recipe", f"bucket {frames}x{height}x{width}: latents {w}x{h} do not split into "
                             f"{pw}x{ph} patches")  # fmt: skip


def _unsharded(transformer: torch.nn.Module, lora_rank: int | None) -> torch.nn.Module:
    """A fresh, unsharded transformer of the same configuration (and LoRA adapter), to load full weights into."""
    with torch.random.fork_rng(devices=[]):
        fresh = type(transformer).from_config(transformer.config)
        if lora_rank:
            add_lora(fresh, lora_rank)
    return fresh


def balanced_order(title_ids: list[str], balance: float) -> np.ndarray:
    """Window indices, each repeated so that a title's share of samples goes as (its windows)^(1 - balance)."""
    counts = Counter(title_ids)
    weight = np.array([counts[t] ** -balance for t in title_ids])
    repeats = np.maximum(1, np.round(weight / weight.min())).astype(int)
    return np.repeat(np.arange(len(title_ids)), repeats)


def denoiser_seconds(cfg: TrainConfig, run: Path, started: float, par: Parallel) -> float | None:
    """The denoiser stage's time budget: `cfg.seconds`, or with `cfg.budget_seconds` what this process's work
    since `started` left of it (at most `cfg.seconds`, at least a tenth of the budget). Fixed in the run
    folder the first time, so a resumed run trains the same stage configuration to the same step count."""
    if cfg.budget_seconds is None:
        return cfg.seconds
    path = run / "denoiser-seconds.json"
    if path.exists():
        return json.loads(path.read_text())["seconds"]
    left = max(cfg.budget_seconds - (time.perf_counter() - started), 0.1 * cfg.budget_seconds)
    seconds = par.broadcast(round(min(left, cfg.seconds or left), 1))
    if par.is_main:
        run.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"seconds": seconds, "budget_seconds": cfg.budget_seconds}))
    par.barrier()
    return seconds


def _vae_stage(recipe: Recipe, train_w: Windows, windows: Windows, run: Path, par: Parallel,
               request: TrainRequest, report: TrainReport, reporter: Reporter) -> torch.nn.Module | None:  # fmt: skip
    """Train the VAE (or load the one this run already trained), check it beats the mean clip."""
    cfg, folder = recipe.train, run / "vae"
    if (folder / "config.json").exists():
        from cinefoundry.models.vae import load_vae

        return load_vae(str(folder), recipe.vae.kind)
    if recipe.vae.kind != "ltx":
        raise CinefoundryError("the Wan VAE is not trained here: give --init-from a folder with Wan 2.1 weights")
    vae = recipe.vae.build()
    spec = StageSpec("vae", cfg.vae_steps, cfg.vae_batch, cfg.vae_lr, min(50, cfg.vae_steps // 10), 0.0, None,
                     cfg.vae_seconds, cfg.seed, cfg.log_every, cfg.checkpoint_every, cfg.precision,
                     cfg.vae_cpu_bf16, cfg.vae_min_steps)  # fmt: skip
    ws_ = windows.spec
    frames = min(cfg.vae_frames or ws_.frames, ws_.frames)
    size = None if cfg.vae_crop is None else (min(cfg.vae_crop, ws_.height), min(cfg.vae_crop, ws_.width))
    shape = recipe.vae.latent_shape(frames, *(size or (ws_.height, ws_.width)))
    loss_fn = stages.vae_loss_fn(train_w.videos, cfg.vae_kl_weight, shape, frames, par.device, size)
    loop = TrainingLoop(
        spec, stages.VAEStep(vae, cfg.vae_noise), loss_fn, len(train_w), par, run, reporter, request.stop_after
    )
    result = loop.run()
    _record(report, "vae", result, par)
    if not loop.finished:
        return None
    if par.sharded:  # FSDP2 sharded the VAE in place: continue with a whole copy of the trained weights
        weights = {k.removeprefix("vae."): v for k, v in loop.ema_state_dict().items()}
        with torch.random.fork_rng(devices=[]):  # building draws random weights: keep later draws as in 1 process
            vae = recipe.vae.build()
        vae.load_state_dict(weights)
    vae.eval()
    # every frame once: the overlapping stride-1 windows would take ten times as long for the same statistics
    mean, std = stages.measure_latent_stats(vae, train_w.distinct().videos, 16, par.device)
    set_latent_stats(vae, mean, std)
    held = windows.evaluation if windows.held_out.any() else train_w
    quality = vae_quality(vae, train_w, held.distinct(), par.device)
    report.stages["vae"].update(quality)
    if cfg.vae_gate_db is not None and quality["psnr"] < quality["mean_clip_psnr"] + cfg.vae_gate_db:
        raise CinefoundryError(
            f"the VAE reconstructs held-out clips at {quality['psnr']:.1f} dB, no better than the mean clip "
            f"({quality['mean_clip_psnr']:.1f} dB): it collapsed; train it longer (vae_steps) before a denoiser"
        )
    if par.is_main:
        vae.save_pretrained(folder)
    par.barrier()
    return vae


@torch.no_grad()
def vae_quality(vae: torch.nn.Module, train_w: Windows, held: Windows, device: torch.device) -> dict[str, float]:
    """Held-out reconstruction PSNR of the VAE and of the mean training clip (the collapse baseline)."""
    x = stages.to_video(held.videos).to(device)
    mean_clip = stages.to_video(train_w.videos).mean(0, keepdim=True).to(device)
    return {"psnr": round(float(psnr(reconstruct(vae, x), x).mean()), 2),
            "mean_clip_psnr": round(float(psnr(mean_clip.expand_as(x), x).mean()), 2)}  # fmt: skip


def encodes_in_bf16(cfg: TrainConfig, vae: torch.nn.Module, windows: Windows, par: Parallel) -> bool:
    """Whether the latent caches are encoded under bf16 autocast: where the recipe asks for bf16 on a CPU, or
    where its VAE may use CPU bf16 and encoding a few windows times faster so (2.1-2.4x faster on a Xeon with
    AMX, latents within 0.5%; 1.4x slower on one with AVX512-BF16 only: RESULTS.md). GPUs encode in fp32."""
    if par.device.type != "cpu":
        return False
    if not cpu_bf16_is_measured(cfg.precision, par.device, cfg.vae_cpu_bf16):
        return uses_bf16(cfg.precision, par.device, cfg.vae_cpu_bf16)
    x = stages.to_video(windows.videos[:4]).to(par.device)
    with torch.no_grad():
        faster = bf16_is_faster(lambda: encode(vae, x))
    return bool(par.broadcast(int(faster)))  # rank 0 encodes, every rank reads the cache under the same key


def _latents(ws: Workspace, vae: torch.nn.Module, windows: Windows, par: Parallel, reporter: Reporter,
             bf16: bool = False, mirrored: bool = False) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Latents of the training and held-out windows, from the cache or encoded once (by rank 0) into it;
    `mirrored`: of the windows flipped left to right, cached apart (only the missing ones are flipped)."""
    spec = windows.spec
    # bf16 latents are cached apart: a run in fp32 never trains on them, nor the other way round
    key = f"{stages.vae_digest(vae)}:{spec.width}x{spec.height}x{spec.frames}@{spec.fps}{':bf16' if bf16 else ''}"
    key += ":mirrored" if mirrored else ""
    items = [window_item(c, t) for c, t in zip(windows.clip_ids, windows.starts_s, strict=True)]

    def encode(missing: list[int]) -> list[np.ndarray]:
        reporter.begin("encoding latents", (len(missing) + 15) // 16)
        with torch.autocast(par.device.type, dtype=torch.bfloat16, enabled=bf16):
            videos = mirror_videos(windows.videos[missing]) if mirrored else windows.videos[missing]
            fresh = stages.encode_windows(vae, videos, 16, par.device, reporter.step)
        reporter.end()
        return [z.numpy().astype(np.float16) for z in fresh]

    z = torch.from_numpy(_cached(ArrayCache(str(ws.home / "latents.lance")), key, items, encode, par)
                         .astype(np.float32))  # fmt: skip
    held = torch.from_numpy(windows.held_out)
    return z[~held], z[held]


def _texts(ws: Workspace, text, captions: list[str], par: Parallel) -> torch.Tensor:
    """(len(captions), L, D) caption embeddings, cached by encoder key and length."""
    key = f"{text.key}:{text.config.max_length}"
    items = [text_item(c) for c in captions]

    def encode(missing: list[int]) -> list[np.ndarray]:
        return [e.numpy() for e in stages.encode_texts(text, [captions[i] for i in missing])]

    return torch.from_numpy(_cached(ArrayCache(str(ws.home / "text_embeddings.lance")), key, items, encode, par))


def _cached(cache: ArrayCache, key: str, items: list[str], encode: Callable[[list[int]], list[np.ndarray]],
            par: Parallel) -> np.ndarray:  # fmt: skip
    """The arrays of `items` under `key`, stacked: rank 0 encodes the missing ones into the cache, then every
    rank reads them back (so all ranks train on exactly the stored values)."""
    if par.is_main:
        have = cache.get(key, items)
        missing = [i for i, item in enumerate(items) if item not in have]
        if missing:
            cache.put(key, dict(zip([items[i] for i in missing], encode(missing), strict=True)))
    par.barrier()
    have = cache.get(key, items)
    return np.stack([have[i] for i in items])


def _register(ws: Workspace, request: TrainRequest, recipe: Recipe, init: InitSource, vae, transformer, text,
              windows: Windows, latents: torch.Tensor, eval_latents: torch.Tensor, dataset_label: str,
              run: Path) -> dict[str, Any]:  # fmt: skip
    """Write the model folder and register the model (rank 0)."""
    name = request.name or dataset_label.split("@")[0]
    staging = run / "model"
    if staging.exists():
        shutil.rmtree(staging)
    held = sorted({c for c, h in zip(windows.clip_ids, windows.held_out, strict=True) if h})
    meta = {"dataset": dataset_label, "titles": windows.titles, "held_out_clips": held,
            "latent_shape": list(latents.shape[1:]), "window": windows.spec.__dict__,
            "buckets": [[windows.spec.frames, windows.spec.height, windows.spec.width],
                        *[list(b) for b in recipe.train.buckets]],
            "init_from": request.init_from}  # fmt: skip
    if request.lora_rank:
        meta["lora"] = {"rank": request.lora_rank, "parent": init.folder_ref}
        save_bundle(staging, vae=vae, transformer=None, text=text, recipe=recipe, meta=meta,
                    lora_state=lora_state_dict(transformer))  # fmt: skip
    else:
        save_bundle(staging, vae=vae, transformer=transformer, text=text, recipe=recipe, meta=meta)
    with ws.session("model.register") as s:
        version = latest_version(s, dataset_label)
        parent = find_model(s, init.model_id) if init.model_id is not None else None
        model = register_model(s, name=name, tenant=ws.settings.tenant, recipe=recipe.name, config=recipe.as_dict(),
                               dataset=version, parent=parent, base_weights=init.base_weights, path="",
                               actor=ws.actor, lora_rank=request.lora_rank)  # fmt: skip
        model.path = f"models/{model.label}"
        target = ws.home / model.path
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), target)
        load_bundle(target)  # the folder must load before the model is registered (the transaction commits after)
        return model.as_dict()


def _record(report: TrainReport, name: str, result: StageResult, par: Parallel) -> None:
    report.stages[name] = result.as_dict() | {"world_size": par.world_size, "losses": list(result.losses)}
    report.losses[name] = list(result.losses)
