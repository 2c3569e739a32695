"""Training end to end on a tiny recipe: a registered model in diffusers layout, exact resume, 2-process DDP
parity (torchrun, gloo), LoRA, the latent cache, and lineage back to the dataset's grants."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLLTXVideo, WanTransformer3DModel

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.core.errors import CinefoundryError
from cinefoundry.dataset.build import BuildSettings, build_dataset, latest_version, remove_title
from cinefoundry.dataset.samples import WindowSpec, load_windows, mirror_caption, mirror_videos
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.run import run_ingest
from cinefoundry.models.bundle import LORA_FILE, load_bundle
from cinefoundry.models.recipes import TrainConfig, get_recipe
from cinefoundry.registry.registry import find_model, mark_affected_hook
from cinefoundry.testing.film import make_shots
from cinefoundry.train import stages
from cinefoundry.train.parallel import Parallel
from cinefoundry.train.run import TrainRequest, denoiser_seconds, train_model
from cinefoundry.workspace import Workspace

TITLES = ["Alpha", "Beta"]
TINY = get_recipe("tiny")


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Two synthetic titles (three shots each) ingested into a dataset `td` of 32x32, 9 frames at 8 fps."""
    folder = tmp_path_factory.mktemp("train")
    rows = []
    for i, title in enumerate(TITLES):
        make_shots(folder / f"{title}.mp4", [60, 72, 66], size=(128, 72), seed=i + 3)
        rows.append({"title": title, "kind": "short", "media": f"{title}.mp4", "licence": "CC-BY-4.0"})
    (folder / "m.json").write_text(json.dumps(rows))
    ws = Workspace.init(folder / "studio")
    assert import_catalog(folder / "m.json", ws.session, ws.actor).ok
    assert run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri)).ok
    settings = BuildSettings(width=32, height=32, frames=9, fps=8)
    build_dataset(ws.session, ClipCatalog(ws.clips_uri), ws.store, "td", settings, ws.actor)
    yield ws
    ws.close()


def fresh_run(ws: Workspace) -> None:
    shutil.rmtree(ws.home / "runs", ignore_errors=True)


def test_title_phrases_are_the_whole_sentences_a_titles_captions_share() -> None:
    captions = ["A shot from Sintel (2010), an animated short film. Daylight. Colours: grey.",
                "A shot from Sintel (2010), an animated short film. Dim light. Colours: grey.",
                "A shot from Sintel (2010), an animated short film. Daylight. Colours: white.",
                "A shot from Tears of Steel. Dark.", "A shot from Tears of Steel. Dark.",
                "Alpha in the snow", "Alpha in the rain"]  # fmt: skip
    titles = ["s", "s", "s", "t", "t", "a", "a"]
    # one distinct caption is no shared phrase; captions sharing no whole sentence give none
    assert stages.title_phrases(captions, titles) == {"s": "A shot from Sintel (2010), an animated short film.",
                                                      "t": "", "a": ""}  # fmt: skip


def test_captions_fall_to_the_title_phrase_or_the_empty_prompt_as_the_recipe_asks() -> None:
    text = torch.arange(4.0).view(4, 1, 1).expand(4, 2, 3)  # row r holds the value r: the row a sample got
    caption, title = torch.tensor([2, 3, 2, 3]), torch.tensor([1, 1, 1, 1])
    seen = []

    class Probe(torch.nn.Module):
        """Returns zeros, and keeps the text rows each call was given."""

        config = type("C", (), {"patch_size": (1, 1, 1)})

        def forward(self, x: torch.Tensor, t: torch.Tensor, txt: torch.Tensor, return_dict: bool) -> tuple:
            seen.append(txt[:, 0, 0].tolist())
            return (torch.zeros_like(x),)

    latents = torch.zeros(4, 2, 3, 2, 2)
    for dropout, title_only, expected in [(0.0, 0.0, [2, 3, 2, 3]), (0.0, 1.0, [1, 1, 1, 1]), (1.0, 0.0, [0] * 4)]:
        cfg = TrainConfig(caption_dropout=dropout, caption_title_only=title_only)
        loss = stages.denoiser_loss_fn(latents, text, caption, cfg, torch.device("cpu"), title)
        loss(Probe(), torch.arange(4), slice(None), torch.Generator().manual_seed(0))
        assert seen[-1] == expected


def test_mirrored_windows_flip_the_picture_and_swap_left_and_right_in_the_caption() -> None:
    assert mirror_caption("Dim light, the camera pans left. Left of frame: a dragon; copyright") == (
        "Dim light, the camera pans right. Right of frame: a dragon; copyright"
    )
    videos = np.arange(2 * 3 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 3, 4, 5, 3)
    m = mirror_videos(videos)
    assert np.array_equal(m[:, :, :, 0], videos[:, :, :, -1])
    assert [mirror_caption(c) for c in ["pans right", "static"]] == ["pans left", "static"]
    assert np.array_equal(mirror_videos(m), videos)


def test_a_flip_share_of_samples_trains_on_the_mirrored_latents_and_captions() -> None:
    text = torch.arange(5.0).view(5, 1, 1).expand(5, 2, 3)  # row r holds the value r
    seen = []

    class Probe(torch.nn.Module):
        """Returns zeros, and keeps the latents and text rows each call was given."""

        config = type("C", (), {"patch_size": (1, 1, 1)})

        def forward(self, x: torch.Tensor, t: torch.Tensor, txt: torch.Tensor, return_dict: bool) -> tuple:
            seen.append((x, txt[:, 0, 0].tolist()))
            return (torch.zeros_like(x),)

    latents, mirrored = torch.zeros(4, 2, 3, 2, 2), torch.ones(4, 2, 3, 2, 2)
    caption, mirror_rows = torch.tensor([1, 2, 1, 2]), torch.tensor([3, 4, 3, 4])
    losses = {}
    for flip in (0.0, 1.0):
        cfg = TrainConfig(caption_dropout=0.0, flip=flip, cond_first=0, cond_last=0, cond_both=0, cond_random=0,
                          cond_prefix=0)  # fmt: skip
        fn = stages.denoiser_loss_fn(latents, text, caption, cfg, torch.device("cpu"), mirror=(mirrored, mirror_rows))
        losses[flip] = float(fn(Probe(), torch.arange(4), slice(None), torch.Generator().manual_seed(0)))
        assert seen[-1][1] == ([1, 2, 1, 2] if flip == 0 else [3, 4, 3, 4])
    # the zero prediction's loss is |noise - x0|^2: x0 = 0 (plain) or 1 (mirrored) changes it
    assert losses[0.0] != losses[1.0]
    # and no mirror given: the same draws as before mirroring existed (the plain latents, the same loss)
    cfg = TrainConfig(caption_dropout=0.0, cond_first=0, cond_last=0, cond_both=0, cond_random=0, cond_prefix=0)
    plain = stages.denoiser_loss_fn(latents, text, caption, cfg, torch.device("cpu"))
    assert float(plain(Probe(), torch.arange(4), slice(None), torch.Generator().manual_seed(0))) == losses[0.0]


def test_the_vae_trains_on_random_crops_of_the_windows_when_the_recipe_asks() -> None:
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 256, (3, 9, 16, 24, 3), dtype=np.uint8)  # every pixel a different draw: findable
    seen = []

    class Probe(torch.nn.Module):
        """A perfect autoencoder that keeps what it was given."""

        def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple:
            seen.append((x, eps))
            return x, torch.zeros(len(x), 1), torch.zeros(len(x), 1)

    def found(clip: torch.Tensor, i: int) -> bool:  # the crop is somewhere in window i, mirrored or not
        whole = stages.to_video(videos[i : i + 1])[0]
        f, h, w = clip.shape[1:]
        return any(torch.equal(c, whole[:, s : s + f, y : y + h, x : x + w])
                   for c in (clip, clip.flip(-1)) for s in range(whole.shape[1] - f + 1)
                   for y in range(whole.shape[2] - h + 1) for x in range(whole.shape[3] - w + 1))  # fmt: skip

    idx = torch.tensor([2, 0, 1, 2])
    cropped = stages.vae_loss_fn(videos, 1e-6, (4, 3, 1, 1), 5, torch.device("cpu"), (8, 8))
    assert float(cropped(Probe(), idx, slice(None), torch.Generator().manual_seed(0))) == 0.0
    x, eps = seen[-1]
    assert x.shape == (4, 3, 5, 8, 8) and eps.shape == (4, 4, 3, 1, 1)
    assert all(found(clip, i) for clip, i in zip(x, idx.tolist(), strict=True))
    # different crops for the same window: its positions are drawn, not fixed
    assert not torch.equal(x[0], x[3])
    whole = stages.vae_loss_fn(videos, 1e-6, (4, 3, 2, 3), 5, torch.device("cpu"))
    whole(Probe(), idx, slice(None), torch.Generator().manual_seed(0))
    assert seen[-1][0].shape == (4, 3, 5, 16, 24)


def test_a_trained_model_is_registered_with_lineage_and_reloads_with_diffusers_classes(studio: Workspace) -> None:
    fresh_run(studio)
    report = train_model(studio, TrainRequest("td", TINY, name="tinymodel"))
    model = report.model
    assert model is not None and model["label"] == "tinymodel@v1" and model["recipe"] == "tiny"
    folder = studio.home / model["path"]
    with studio.session("read") as s:
        m = find_model(s, "tinymodel")
        assert m.dataset.label == "td@v1"
        assert {g.title_id for g in m.grants} == {"alpha", "beta"}
    bundle = load_bundle(folder)
    # diffusers' own classes load the same weights and give the same output
    transformer = WanTransformer3DModel.from_pretrained(folder / "transformer")
    vae = AutoencoderKLLTXVideo.from_pretrained(folder / "vae")
    c, f, h, w = bundle.latent_shape
    x = torch.randn(1, c, f, h, w, generator=torch.Generator().manual_seed(0))
    text = bundle.text(["A shot from Alpha"])
    ours_state, theirs_state = bundle.transformer.state_dict(), transformer.state_dict()
    assert ours_state.keys() == theirs_state.keys()
    assert all(torch.equal(ours_state[k], theirs_state[k]) for k in ours_state)
    frame_t = torch.linspace(0, 1000, f)[None]  # the first frame given clean, as image-to-video asks
    _, ph, pw = transformer.config.patch_size
    tokens_per_frame = (h // ph) * (w // pw)
    with torch.no_grad():
        # per sample exactly diffusers' numbers; per frame against per token, the same to float32 rounding
        for t_ours, t_theirs in (
            (torch.tensor([500.0]),) * 2,
            (frame_t, frame_t.repeat_interleave(tokens_per_frame, 1)),
        ):
            ours = bundle.transformer(x, t_ours, text, return_dict=False)[0]
            theirs = transformer(x, t_theirs, text, return_dict=False)[0]
            assert torch.equal(ours, theirs) if t_ours.ndim == 1 else torch.allclose(ours, theirs, rtol=0, atol=1e-5)
        assert torch.equal(bundle.vae.decode(x).sample, vae.decode(x).sample)
    assert report.stages["vae"]["psnr"] > report.stages["vae"]["mean_clip_psnr"] - 5  # 4 steps: only a sanity bound


def test_an_interrupted_run_resumes_to_exactly_the_same_losses(studio: Workspace) -> None:
    # with a second (5 frames, 16x32) bucket and title-only captions: which bucket and which caption a step
    # trains on are restored with everything else
    # and a whole-run time budget: the denoiser's share is fixed at the first attempt, so the resumed stage is the
    # same stage (it would restart from step 0 if its budget were measured again)
    recipe = TINY.with_overrides(vae_steps=6, steps=8, checkpoint_every=1, buckets=((5, 16, 32),), bucket_share=0.5,
                                 caption_title_only=0.5, budget_seconds=3600)  # fmt: skip
    fresh_run(studio)
    whole = train_model(studio, TrainRequest("td", recipe, name="whole"))
    fresh_run(studio)
    first = train_model(studio, TrainRequest("td", recipe, name="parts", stop_after=3))
    assert first.model is None and len(first.losses["vae"]) == 3 and "denoiser" not in first.losses
    second = train_model(studio, TrainRequest("td", recipe, name="parts", stop_after=5))
    assert second.model is None and second.stages["denoiser"]["resumed_from"] == 0
    third = train_model(studio, TrainRequest("td", recipe, name="parts"))
    assert third.stages["denoiser"]["resumed_from"] == 5 and third.model is not None
    assert second.losses["vae"] == whole.losses["vae"]
    assert third.losses["denoiser"] == whole.losses["denoiser"]
    assert load_bundle(studio.home / whole.model["path"]).meta["buckets"] == [[9, 32, 32], [5, 16, 32]]
    a = load_bundle(studio.home / whole.model["path"]).transformer.state_dict()
    b = load_bundle(studio.home / third.model["path"]).transformer.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_settings_of_speed_and_memory_keep_the_run_folder_so_a_rerun_resumes() -> None:
    """A run that ran out of memory resumes with checkpointing on (or another kernel, or uncompiled)."""
    base = TrainRequest("td", TINY).fingerprint("hash")
    faster = TINY.with_overrides(gradient_checkpointing="full", attention="_native_efficient", compile=False)
    assert TrainRequest("td", faster).fingerprint("hash") == base
    assert TrainRequest("td", TINY.with_overrides(steps=7)).fingerprint("hash") != base
    assert TrainRequest("td", TINY.with_overrides(precision="bf16")).fingerprint("hash") != base  # other numbers


def test_the_denoiser_gets_what_the_run_budget_left_fixed_at_the_first_attempt(tmp_path: Path) -> None:
    cfg = replace(TINY.train, budget_seconds=100.0, seconds=None)
    assert denoiser_seconds(TINY.train, tmp_path / "plain", time.perf_counter(), Parallel()) == TINY.train.seconds
    assert denoiser_seconds(cfg, tmp_path / "a", time.perf_counter() - 30, Parallel()) == pytest.approx(70, abs=1)
    # a resumed run keeps the first attempt's budget, however long this process has taken so far
    assert denoiser_seconds(cfg, tmp_path / "a", time.perf_counter() - 80, Parallel()) == pytest.approx(70, abs=1)
    # at least a tenth of the budget, at most the stage's own `seconds`
    assert denoiser_seconds(cfg, tmp_path / "b", time.perf_counter() - 99, Parallel()) == 10.0
    capped = replace(cfg, seconds=20.0)
    assert denoiser_seconds(capped, tmp_path / "c", time.perf_counter(), Parallel()) == 20.0


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_give_the_losses_of_one_process_with_the_same_global_batch(studio: Workspace,
                                                                                 strategy: str) -> None:  # fmt: skip
    """torchrun with 2 CPU ranks (gloo), DDP or FSDP2, stopped after 2 steps and resumed, against an uninterrupted
    single process with the same global batch: the same losses (sharded checkpoints resume exactly). FSDP2 runs
    with gradient checkpointing (as the Wan recipes do), so the sharded blocks recompute inside their backward."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINEFOUNDRY_")} | {"OMP_NUM_THREADS": "1"}
    settings = "vae_steps=3,steps=4" + (",gradient_checkpointing=true" if strategy == "fsdp" else "")
    args = ["--dataset", "td", "--recipe", "tiny", "--set", settings, "--home", str(studio.home), "--json"]

    def run(*launcher: str, name: str, module: bool = True, fresh: bool = True) -> dict:
        if fresh:
            fresh_run(studio)
        cmd = [*launcher, *(["-m", "cinefoundry.train"] if module else []), *args, "--name", name]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    single = run(sys.executable, name=f"single-{strategy}")
    port = str(29533 + (strategy == "fsdp"))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port]
    launch = [*torchrun, "-m", "cinefoundry.train", "--strategy", strategy]
    stopped = run(*launch, "--stop-after", "2", name=strategy, module=False)
    assert stopped["model"] is None  # stopped in the VAE stage, as a preempted job would be
    double = run(*launch, name=strategy, module=False, fresh=False)  # resumes the 2-rank checkpoints
    assert double["stages"]["denoiser"]["world_size"] == 2 and double["model"]["label"] == f"{strategy}@v1"
    assert double["stages"]["vae"]["resumed_from"] == 2
    for stage in ("vae", "denoiser"):
        one, two = single["stages"][stage]["losses"], double["stages"][stage]["losses"]
        assert len(one) == len(two)
        assert one == pytest.approx(two, rel=1e-4, abs=1e-6)


def test_lora_fine_tunes_a_registered_model_and_saves_diffusers_lora_weights(studio: Workspace) -> None:
    with studio.session("read") as s:
        parent = find_model(s, "tinymodel").label
    fresh_run(studio)
    report = train_model(studio, TrainRequest("td", TINY, name="tinylora", init_from=parent, lora_rank=4))
    folder = studio.home / report.model["path"]
    assert (folder / "transformer_lora" / "pytorch_lora_weights.safetensors").is_file()
    assert not (folder / "transformer").exists()
    assert "vae" not in report.stages  # the parent's VAE is reused, not retrained
    bundle = load_bundle(folder)
    base = load_bundle(studio.home / "models" / parent)
    c, f, h, w = bundle.latent_shape
    x = torch.randn(1, c, f, h, w, generator=torch.Generator().manual_seed(1))
    text, t = bundle.text(["A shot from Beta"]), torch.tensor([300.0])
    with torch.no_grad():
        tuned = bundle.transformer(x, t, text, return_dict=False)[0]
        plain = base.transformer(x, t, text, return_dict=False)[0]
    assert not torch.allclose(tuned, plain)  # the adapter changed the output
    # diffusers loads the adapter onto the parent's transformer by itself
    transformer = WanTransformer3DModel.from_pretrained(studio.home / "models" / parent / "transformer")
    transformer.load_lora_adapter(str(folder / "transformer_lora"), weight_name=LORA_FILE, adapter_name="default")
    with torch.no_grad():
        assert torch.allclose(transformer(x, t, text, return_dict=False)[0], tuned, atol=1e-6)
    with studio.session("read") as s:
        m = find_model(s, "tinylora")
        assert m.parent.label == parent and m.lora_rank == 4


def test_latents_are_cached_by_vae_and_reused(studio: Workspace) -> None:
    import lance

    before = lance.dataset(str(studio.home / "latents.lance")).count_rows()
    fresh_run(studio)
    with studio.session("read") as s:
        parent = find_model(s, "tinymodel").label
    train_model(studio, TrainRequest("td", TINY.with_overrides(steps=2), name="again", init_from=parent))
    assert lance.dataset(str(studio.home / "latents.lance")).count_rows() == before  # same VAE: nothing new


def test_mirrored_latents_are_encoded_once_and_cached_apart(studio: Workspace) -> None:
    import lance

    def rows() -> int:
        return lance.dataset(str(studio.home / "latents.lance")).count_rows()

    fresh_run(studio)
    with studio.session("read") as s:
        parent = find_model(s, "tinymodel").label
    before = rows()
    mirrored = TINY.with_overrides(steps=2, flip=0.5)
    train_model(studio, TrainRequest("td", mirrored, name="mirrored", init_from=parent))
    added = rows() - before  # the parent's VAE: only the mirrored windows are new
    with studio.session("read") as s:
        version = latest_version(s, "td")
        windows = load_windows(ClipCatalog(studio.clips_uri), studio.store, version, WindowSpec.of(version, stride=1))
    # the training windows only: held-out ones are never trained on, mirrored or not
    assert added == len(windows.train) and windows.held_out.any()
    with studio.session("read") as s:
        assert find_model(s, "mirrored").config["train"]["flip"] == 0.5
    fresh_run(studio)
    train_model(studio, TrainRequest("td", mirrored, name="mirrored", init_from=parent))
    assert rows() - before == added


def test_a_bucket_crop_or_attention_kernel_the_run_cannot_use_is_refused_before_any_work(studio: Workspace) -> None:
    fresh_run(studio)
    for bucket, words in (((8, 16, 32), "4k\\+1|2k\\+1"), ((17, 16, 32), "longer"), ((5, 12, 32), "multiples")):
        with pytest.raises(CinefoundryError, match=words):
            train_model(studio, TrainRequest("td", TINY.with_overrides(buckets=(bucket,)), name="badbucket"))
    with pytest.raises(CinefoundryError, match=r"vae_crop 12: .* multiple of 8"):
        train_model(studio, TrainRequest("td", TINY.with_overrides(vae_crop=12), name="badcrop"))
    with pytest.raises(CinefoundryError, match="attention 'flash3': use one of native, "):
        train_model(studio, TrainRequest("td", TINY.with_overrides(attention="flash3"), name="badkernel"))
    with pytest.raises(CinefoundryError, match="'_native_cudnn' runs on CUDA GPUs only; this run is on cpu"):
        train_model(studio, TrainRequest("td", TINY.with_overrides(attention="_native_cudnn"), name="badkernel"))
    assert not (studio.home / "runs").exists() or not any((studio.home / "runs").iterdir())  # no stage began


def test_a_dataset_without_enough_windows_for_the_batch_is_refused_clearly(studio: Workspace) -> None:
    with pytest.raises(CinefoundryError, match="training windows"):
        train_model(studio, TrainRequest("td", TINY.with_overrides(batch=100_000)))


def test_removing_a_title_lists_the_models_trained_on_it(studio: Workspace) -> None:
    result, _ = remove_title(studio.session, studio.store, "td", "beta", "licence ended", studio.actor,
                             mark_affected_hook)  # fmt: skip
    assert "tinymodel@v1" in {m["label"] for m in result.affected_models}
    with studio.session("read") as s:
        assert find_model(s, "tinymodel").status == "affected"


def test_a_vae_that_does_not_beat_the_mean_clip_stops_the_run_before_the_denoiser(studio: Workspace) -> None:
    fresh_run(studio)
    with pytest.raises(CinefoundryError, match="no better than the mean clip"):
        train_model(studio, TrainRequest("td", TINY.with_overrides(vae_gate_db=30.0), name="collapsed"))


def test_gradient_checkpointing_trains_to_the_same_losses(studio: Workspace) -> None:
    """The recipe's checkpointing (train/kernels.py: attention kept, the rest recomputed) changes memory and time,
    not the numbers: a denoiser's losses match those of the same run without it."""
    losses = []
    for checkpointing in (False, True):
        fresh_run(studio)
        recipe = TINY.with_overrides(steps=4, gradient_checkpointing=checkpointing)
        report = train_model(studio, TrainRequest("td", recipe, name=f"ckpt{int(checkpointing)}"))
        losses.append(report.losses["denoiser"])
    assert len(losses[0]) == 4 and losses[1] == pytest.approx(losses[0], rel=1e-5)


def test_a_denoisers_min_steps_outlast_its_time_budget(studio: Workspace) -> None:
    """The recipe's `min_steps` reaches the denoiser stage: a budget too short for one step still trains them
    (the plan is made at step 25, so a budget alone would stop at step 26)."""
    fresh_run(studio)
    recipe = TINY.with_overrides(steps=60, seconds=0.001, min_steps=30)
    report = train_model(studio, TrainRequest("td", recipe, name="floored"))
    assert report.stages["denoiser"]["steps"] == 30 and report.stages["denoiser"]["attention"] == "native"


def test_eval_measures_a_model_and_stores_the_numbers_in_the_registry(studio: Workspace) -> None:
    from typer.testing import CliRunner

    from cinefoundry.cli import app

    args = ["eval", "tinymodel@v1", "--per-title", "2", "--steps", "3", "--judges", "2", "--guidance-interval"]
    done = CliRunner().invoke(app, [*args, "0.2,0.9", "--home", str(studio.home), "--json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["model"] == "tinymodel@v1" and doc["title_recognition"]["clips"] == 4
    assert doc["title_recognition"]["guidance_interval"] == [0.2, 0.9]
    assert doc["title_recognition"]["chance"] == 0.5
    lo, hi = doc["title_recognition"]["interval_95"]
    assert 0 <= lo <= doc["title_recognition"]["accuracy"] <= hi <= 1 and hi - lo > 0.3  # 4 clips say little
    assert len(doc["flow"]["held_out"]) == len(doc["flow"]["sigmas"]) == 9
    assert doc["vae"]["mean_clip_psnr_db"] > 0 and 0 < doc["vae"]["ssim"] <= 1
    assert doc["catalog_fd"]["generated_vs_held_out"]["mean"] > 0 and doc["catalog_fd"]["ratio_unmatched_titles"] > 0
    fd, tr = doc["catalog_fd"], doc["title_recognition"]
    per_judge = (tr["per_judge"], fd["ratio_per_judge"], doc["classifier"]["held_out_accuracy_per_judge"])
    assert [len(x) for x in per_judge] == [2, 2, 2]
    clf = doc["classifier"]  # real held-out clips by title, which bound what a faithful generator can score
    assert sum(d["clips"] for d in clf["held_out_per_title"].values()) == doc["held_out_windows"]
    assert min(d["accuracy"] for d in clf["held_out_per_title"].values()) <= clf["held_out_title_mean"] <= 1
    assert fd["ratio"] == pytest.approx(sum(fd["ratio_per_judge"]) / 2, abs=2e-3)  # a ratio per judge, then their mean
    assert Path(doc["sample_sheet"]).stat().st_size > 0
    with studio.session("read") as s:
        stored = find_model(s, "tinymodel@v1").metrics["eval"]
    assert stored["title_recognition"] == doc["title_recognition"]["accuracy"]
    assert stored["vae_psnr_db"] == doc["vae"]["psnr_db"]
    for bad in ("0.9,0.2", "half"):
        done = CliRunner().invoke(app, ["eval", "tinymodel@v1", "--home", str(studio.home), "--guidance-interval", bad])
        assert done.exit_code != 0 and "--guidance-interval" in done.output and bad in done.output


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")
def test_bf16_training_with_compiled_blocks_on_a_gpu(studio: Workspace) -> None:
    from cinefoundry.train.parallel import Parallel

    fresh_run(studio)
    par = Parallel(device=torch.device("cuda"))
    report = train_model(studio, TrainRequest("td", TINY.with_overrides(steps=12), name="gpu"), par)
    assert report.model is not None and report.stages["denoiser"]["final_loss"] < 10


@pytest.fixture(scope="module")
def wan_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny local 'Wan 2.1' folder in diffusers layout: Wan VAE, Wan transformer, UMT5 encoder, tokenizer."""
    from diffusers import AutoencoderKLWan
    from transformers import ByT5Tokenizer, UMT5Config, UMT5EncoderModel

    folder = tmp_path_factory.mktemp("wan") / "Wan2.1-tiny"
    torch.manual_seed(0)
    z = 4
    vae = AutoencoderKLWan(
        base_dim=8,
        z_dim=z,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * z,
        latents_std=[1.0] * z,
    )
    vae.save_pretrained(folder / "vae")
    text = UMT5EncoderModel(UMT5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4))
    text.save_pretrained(folder / "text_encoder")
    ByT5Tokenizer().save_pretrained(folder / "tokenizer")
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=8,
        in_channels=z,
        out_channels=z,
        text_dim=32,
        freq_dim=16,
        ffn_dim=32,
        num_layers=1,
    )
    transformer.save_pretrained(folder / "transformer")
    return folder


def test_training_from_local_wan_weights_uses_their_vae_encoder_and_transformer(studio: Workspace,
                                                                                wan_folder: Path) -> None:  # fmt: skip
    fresh_run(studio)
    recipe = TINY.with_overrides(steps=2)
    report = train_model(studio, TrainRequest("td", recipe, name="fromwan", init_from=str(wan_folder)))
    assert "vae" not in report.stages  # the Wan VAE is used as it is
    bundle = load_bundle(studio.home / report.model["path"])
    assert type(bundle.vae).__name__ == "AutoencoderKLWan" and bundle.recipe.text.kind == "umt5"
    assert bundle.latent_shape == (4, 3, 4, 4)  # 9 frames, 32x32 through the Wan VAE (4x time, 8x space)
    with studio.session("read") as s:
        m = find_model(s, "fromwan")
        assert m.base_weights.startswith("Wan2.1-tiny sha256:") and m.parent is None
    fresh_run(studio)
    lora = train_model(studio, TrainRequest("td", recipe, name="creator-look", init_from=str(wan_folder), lora_rank=2))
    tuned = load_bundle(studio.home / lora.model["path"])
    assert tuned.meta["lora"]["parent"] == str(wan_folder)
    assert any("lora" in k for k in tuned.transformer.state_dict())


def test_a_time_budget_is_replanned_when_the_machine_slows(tmp_path: Path) -> None:
    """Steps that slow down fourfold after the first plan: the step count is planned again, so the stage ends
    near its budget instead of running the first plan's steps at the slower speed (a 2-core VM drifts so)."""
    import time

    from cinefoundry.train.loop import StageSpec, TrainingLoop
    from cinefoundry.train.parallel import Parallel

    model = torch.nn.Linear(4, 1)
    calls = []

    def loss(m: torch.nn.Module, idx: torch.Tensor, part: slice, gen: torch.Generator) -> torch.Tensor:
        calls.append(1)
        time.sleep(0.002 if len(calls) <= 30 else 0.008)  # the machine slows down after the first plan
        return m(torch.randn(len(idx), 4, generator=gen)).pow(2).mean()

    spec = StageSpec("budget", steps=100_000, batch=2, lr=1e-3, warmup=2, seconds=1.5, checkpoint_every=10_000)
    started = time.perf_counter()
    result = TrainingLoop(spec, model, loss, 64, Parallel(), tmp_path).run()
    spent = time.perf_counter() - started
    assert result.steps == result.planned
    # planned once from the fast steps (as before), this stage ran 2.6x its budget (3.9 s)
    assert spent < 1.5 * 1.3, (result.planned, spent)


def test_a_time_budget_trains_at_least_the_stages_min_steps(tmp_path: Path) -> None:
    """A machine too slow for the budget still trains `min_steps` (the VAE's floor): the plan never goes below
    it, and never above `steps`."""
    import time

    from cinefoundry.train.loop import StageSpec, TrainingLoop
    from cinefoundry.train.parallel import Parallel

    def loss(m: torch.nn.Module, idx: torch.Tensor, part: slice, gen: torch.Generator) -> torch.Tensor:
        time.sleep(0.01)  # 100 steps a second: a 0.2 s budget fits about 20
        return m(torch.randn(len(idx), 4, generator=gen)).pow(2).mean()

    def run(steps: int, min_steps: int, folder: str) -> int:
        spec = StageSpec("floor", steps=steps, batch=2, lr=1e-3, warmup=2, seconds=0.2, min_steps=min_steps)
        return TrainingLoop(spec, torch.nn.Linear(4, 1), loss, 64, Parallel(), tmp_path / folder).run().steps

    assert run(1000, 0, "a") < 40
    assert run(1000, 60, "b") == 60
    assert run(45, 60, "c") == 45


def test_the_ema_weights_are_returned_and_the_live_weights_kept(tmp_path: Path) -> None:
    """`ema_state_dict` gives the averaged weights, not the live ones, and training goes on from the live ones.
    On a CPU a state dict's tensors are the parameters themselves: without `full_state_dict`'s copy both were the
    live weights."""
    from cinefoundry.train.loop import StageSpec, TrainingLoop
    from cinefoundry.train.parallel import Parallel

    def loss(m: torch.nn.Module, idx: torch.Tensor, part: slice, gen: torch.Generator) -> torch.Tensor:
        return (m(torch.randn(len(idx), 4, generator=gen)) - 3).pow(2).mean()

    spec = StageSpec("ema", steps=30, batch=4, lr=0.05, ema_decay=0.9)
    model = torch.nn.Linear(4, 1)
    loop = TrainingLoop(spec, model, loss, 64, Parallel(), tmp_path)
    loop.run()
    live = {k: v.clone() for k, v in model.state_dict().items()}
    averaged = loop.ema_state_dict()
    expected = dict(zip(live, loop.ema, strict=True))  # Linear's parameters in state-dict order
    assert all(torch.equal(averaged[k], expected[k]) for k in live)
    assert not torch.equal(averaged["bias"], live["bias"])  # the EMA lags the live weights
    assert all(torch.equal(model.state_dict()[k], live[k]) for k in live)


def test_a_model_samples_with_its_recipes_sampling_shift(tmp_path: Path) -> None:
    """A recipe's sample_shift (set apart from the training shift, as Wan's) is the saved scheduler's shift,
    and a recipe read back from a model folder keeps it (older folders without one sample at the training shift)."""
    from dataclasses import replace

    from diffusers import FlowMatchEulerDiscreteScheduler

    from cinefoundry.models.bundle import save_bundle
    from cinefoundry.models.recipes import Recipe
    from cinefoundry.models.text import load_text_encoder

    recipe = replace(TINY, sample_shift=3.0)
    vae, text = recipe.vae.build(), load_text_encoder(recipe.text)
    transformer = recipe.denoiser.build(recipe.vae.latent_channels, recipe.text.dim)
    meta = {"latent_shape": [4, 1, 2, 2]}
    save_bundle(tmp_path, vae=vae, transformer=transformer, text=text, recipe=recipe, meta=meta)
    assert FlowMatchEulerDiscreteScheduler.from_pretrained(tmp_path / "scheduler").config.shift == 3.0
    assert load_bundle(tmp_path).recipe.sampling_shift == 3.0
    old = {k: v for k, v in recipe.as_dict().items() if k != "sample_shift"}
    assert Recipe.from_dict(old).sampling_shift == recipe.train.shift == 1.0


def test_the_vae_trains_in_bf16_only_on_cpus_that_compute_it_natively(studio: Workspace) -> None:
    """vae_cpu_bf16 lets the VAE stage, and the latent encoding after it, run under bf16 autocast where the CPU
    has AVX512-BF16 or AMX (each where it times faster), and fp32 elsewhere; the denoiser stays fp32 on CPUs;
    an explicit precision overrides."""
    from cinefoundry.train.loop import native_cpu_bf16, uses_bf16

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert uses_bf16("auto", gpu) and not uses_bf16("auto", cpu)
    assert uses_bf16("auto", cpu, cpu_bf16=True) == native_cpu_bf16()
    assert not uses_bf16("fp32", gpu, cpu_bf16=True) and uses_bf16("bf16", cpu)

    def vae_losses(**overrides: object) -> tuple[str, str, list[float]]:
        fresh_run(studio)
        report = train_model(studio, TrainRequest("td", TINY.with_overrides(steps=1, **overrides), name="prec"))
        return report.stages["vae"]["precision"], report.stages["denoiser"]["precision"], report.losses["vae"]

    import lance

    def bf16_latent_rows() -> int:
        return lance.dataset(str(studio.home / "latents.lance")).count_rows(filter="key LIKE '%:bf16'")

    plain = vae_losses()
    assert bf16_latent_rows() == 0  # fp32 runs encode their latents in fp32
    asked = vae_losses(vae_cpu_bf16=True)
    assert asked[1] == "fp32" and (asked[0] == "fp32" or native_cpu_bf16())
    if not native_cpu_bf16():  # where the CPU has it, a timing decides (tested below with work of known speed)
        assert bf16_latent_rows() == 0
    forced = vae_losses(precision="bf16")
    assert plain[:2] == ("fp32", "fp32") and forced[:2] == ("bf16", "bf16")
    assert bf16_latent_rows() > 0  # asked for outright, on any CPU
    # autocast really ran: the same steps in bf16 give other (finite) losses than in fp32
    assert forced[2] != plain[2] and all(abs(v) < 1e3 for v in forced[2])


def test_bf16_is_chosen_on_a_cpu_only_where_the_work_times_faster_in_it() -> None:
    """The timing itself, on work whose speed under autocast is known: slower in bf16, or faster."""
    from cinefoundry.train.loop import bf16_is_faster

    def work(bf16_delay: float, fp32_delay: float) -> None:
        time.sleep(bf16_delay if torch.is_autocast_enabled("cpu") else fp32_delay)

    assert not bf16_is_faster(lambda: work(0.02, 0.002))
    assert bf16_is_faster(lambda: work(0.002, 0.02))


def test_a_stage_times_bf16_on_its_first_batch_and_a_resumed_stage_keeps_the_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where bf16 is only a candidate (auto, a native-bf16 CPU, a stage that may use it), the stage times its own
    step both ways before training; the choice is saved with the stage, so a resumed run trains as it began
    even where a new timing would say otherwise. Which CPU runs the tests decides native bf16, so the check is
    forced to say yes here (the only thing faked)."""
    from cinefoundry.train import loop as loop_module
    from cinefoundry.train.loop import StageSpec, TrainingLoop

    monkeypatch.setattr(loop_module, "native_cpu_bf16", lambda: True)
    slow_in = {"mode": "fp32"}
    seen = []

    def loss(m: torch.nn.Module, idx: torch.Tensor, part: slice, gen: torch.Generator) -> torch.Tensor:
        bf16 = torch.is_autocast_enabled("cpu")
        seen.append(bf16)
        time.sleep(0.01 if (slow_in["mode"] == "bf16") == bf16 else 0.001)
        return m(torch.randn(len(idx), 4, generator=gen)).pow(2).mean()

    def stage(folder: str, stop_after: int | None = None, **spec: object) -> TrainingLoop:
        spec = StageSpec("vae", steps=6, batch=2, lr=1e-3, checkpoint_every=100, **spec)
        return TrainingLoop(spec, torch.nn.Linear(4, 1), loss, 64, Parallel(), tmp_path / folder, stop_after=stop_after)

    assert stage("a", cpu_bf16=True).run().precision == "bf16"  # fp32 is the slow one
    assert stage("b").run().precision == "fp32" and True not in seen[-6:]  # a stage that may not use bf16: no timing
    slow_in["mode"] = "bf16"
    assert stage("c", cpu_bf16=True).run().precision == "fp32"
    assert stage("d", cpu_bf16=True, stop_after=3).run().precision == "fp32"
    slow_in["mode"] = "fp32"  # a new timing would now pick bf16
    seen.clear()
    resumed = stage("d", cpu_bf16=True).run()
    assert resumed.resumed_from == 3 and resumed.precision == "fp32" and seen == [False] * 3  # no timing, fp32 steps
    assert stage("e", cpu_bf16=True, precision="fp32").run().precision == "fp32"  # asked for: no timing


def test_training_overrides_are_typed_and_an_unknown_precision_is_refused() -> None:
    from cinefoundry.cli.train_cmds import parse_overrides
    from cinefoundry.core.errors import InputError

    parsed = parse_overrides("steps=200,seconds=none,lr=1e-3,vae_cpu_bf16=false,precision=fp32")
    assert parsed == {"steps": 200, "seconds": None, "lr": 1e-3, "vae_cpu_bf16": False, "precision": "fp32"}
    assert TINY.with_overrides(**parsed).train.vae_cpu_bf16 is False
    with pytest.raises(InputError, match="precision 'fp16'"):
        TINY.with_overrides(precision="fp16")
