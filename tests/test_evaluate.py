"""Evaluation metrics on synthetic clips: PSNR/SSIM, mean-clip baseline, title classifier, FD, memorisation."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from cinefoundry.dataset.samples import Windows, WindowSpec
from cinefoundry.evaluate import (
    FEATURE_DIM,
    PSNR_CAP_DB,
    TitleClassifier,
    accuracy,
    bootstrap_fd,
    clip_logits,
    frame_features,
    frechet_distance,
    judge_features,
    judge_predictions,
    judged_accuracy,
    judged_probs,
    logits_of_features,
    mean_clip_baseline,
    memorisation_report,
    nearest_frame_distance,
    psnr,
    psnr_from_mse,
    ssim,
    train_classifier,
    train_judges,
)
from cinefoundry.evaluate import memorisation as memorisation_module
from cinefoundry.evaluate.model_eval import _prompts, wilson_interval


def _rand_clips(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Uniform clips in [-1, 1]."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _blocky_clips(n: int, frames: int, size: int, seed: int) -> torch.Tensor:
    """Random low-resolution noise upsampled to `size`: natural-ish frames with structure, in [-1, 1]."""
    low = _rand_clips((n * frames, 3, 8, 8), seed)
    up = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    return up.view(n, frames, 3, size, size).transpose(1, 2).contiguous()


# --- reconstruction -------------------------------------------------------------------------------------------


def test_psnr_of_identical_clips_is_capped_at_100_db() -> None:
    a = _rand_clips((3, 3, 4, 16, 16), 0)
    assert torch.equal(psnr(a, a), torch.full((3,), PSNR_CAP_DB))
    assert psnr_from_mse(0.0) == PSNR_CAP_DB


def test_psnr_of_a_known_mse() -> None:
    a = torch.zeros(2, 3, 4, 16, 16)  # 0.5 on the [0, 1] scale
    sign = torch.where(_rand_clips(a.shape, 1) > 0, 1.0, -1.0)
    # clip 0 differs by 0.1 on the [0, 1] scale everywhere (MSE 0.01), clip 1 by 0.25 (MSE 0.0625)
    b = a + sign * torch.tensor([0.2, 0.5]).view(2, 1, 1, 1, 1)
    expected = torch.tensor([10 * math.log10(1 / 0.01), 10 * math.log10(1 / 0.0625)])
    assert torch.allclose(psnr(a, b), expected, atol=1e-4)
    assert psnr_from_mse(0.01) == pytest.approx(20.0)


def test_ssim_of_identical_clips_is_one() -> None:
    a = _rand_clips((2, 3, 3, 32, 32), 2)
    assert torch.allclose(ssim(a, a), torch.ones(2), atol=1e-6)


def test_ssim_decreases_with_noise() -> None:
    clean = _blocky_clips(2, 3, 32, 3)
    noise = _rand_clips(clean.shape, 4)
    scores = [float(ssim(clean, (clean + s * noise).clamp(-1, 1)).mean()) for s in (0.02, 0.1, 0.3, 0.8)]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4
    assert scores[0] < 1.0 and scores[-1] < 0.5


def test_ssim_of_constant_images_matches_the_formula() -> None:
    # constant frames have no variance, so SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1), C1 = 0.01^2
    mu_a, mu_b = torch.tensor([0.25, 0.5, 0.9]), torch.tensor([0.75, 0.5, 0.1])  # per channel, [0, 1] scale
    c1 = 0.01**2
    expected = float(((2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)).mean())
    for size in (24, 6):  # 6 px frames shrink the window to 5 px; constants give the same value
        a = (mu_a * 2 - 1).view(1, 3, 1, 1, 1).expand(1, 3, 2, size, size)
        b = (mu_b * 2 - 1).view(1, 3, 1, 1, 1).expand(1, 3, 2, size, size)
        assert float(ssim(a, b)) == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx((0.3751 / 0.6251 + 1 + 0.1801 / 0.8201) / 3, abs=1e-6)


def test_ssim_matches_a_pixel_by_pixel_reference() -> None:
    # 13x13 frames and an 11x11 window: 3x3 valid positions, each computed with explicit sums
    a, b = _rand_clips((1, 1, 1, 13, 13), 5).expand(1, 3, 1, 13, 13), _rand_clips((1, 1, 1, 13, 13), 6)
    b = b.expand(1, 3, 1, 13, 13)
    x, y = ((a[0, 0, 0] + 1) / 2).double(), ((b[0, 0, 0] + 1) / 2).double()
    g = [math.exp(-((i - 5) ** 2) / (2 * 1.5**2)) for i in range(11)]
    w = torch.tensor([[gi * gj for gj in g] for gi in g], dtype=torch.float64)
    w = w / w.sum()
    values = []
    for i in range(3):
        for j in range(3):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            c1, c2 = 0.01**2, 0.03**2
            values.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    assert float(ssim(a, b)) == pytest.approx(float(torch.stack(values).mean()), abs=1e-6)


def test_ssim_handles_frames_smaller_than_the_window() -> None:
    a = _rand_clips((2, 3, 2, 5, 7), 7)
    assert torch.allclose(ssim(a, a), torch.ones(2), atol=1e-6)
    assert (ssim(a, (a + 0.3 * _rand_clips(a.shape, 8)).clamp(-1, 1)) < 0.99).all()


def test_mean_clip_baseline_is_perfect_when_every_clip_is_the_same() -> None:
    clip = _rand_clips((1, 3, 4, 16, 16), 9)
    report = mean_clip_baseline(clip.expand(6, -1, -1, -1, -1), clip.expand(2, -1, -1, -1, -1))
    assert report["psnr_db"] == PSNR_CAP_DB
    assert report["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert (report["train_clips"], report["held_out_clips"]) == (6, 2)


def test_mean_clip_baseline_predicts_the_mean() -> None:
    c = _rand_clips((1, 3, 2, 16, 16), 10)
    train = torch.cat([c, -c])  # per-pixel mean: 0 everywhere
    held_out = torch.cat([torch.zeros_like(c), c])
    report = mean_clip_baseline(train, held_out)
    expected = (PSNR_CAP_DB + float(psnr(torch.zeros_like(c), c))) / 2
    assert report["psnr_db"] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="must share"):
        mean_clip_baseline(train, held_out[:, :, :1])


# --- title classifier -----------------------------------------------------------------------------------------

_PALETTES = torch.tensor(
    [
        [[0.9, 0.2, 0.1], [0.1, 0.2, 0.8]],  # red / blue
        [[0.2, 0.8, 0.2], [0.9, 0.9, 0.2]],  # green / yellow
        [[0.6, 0.2, 0.7], [0.95, 0.6, 0.1]],  # purple / orange
        [[0.1, 0.7, 0.7], [0.3, 0.3, 0.3]],  # teal / grey
    ]
)


def _titles(per_title: int, seed: int, size: int = 64, frames: int = 17) -> tuple[torch.Tensor, torch.Tensor]:
    """Four synthetic titles: palette and texture (stripes, checkerboard, blobs, diagonals) differ by title;
    offset, period, drift, brightness and noise are random per clip. Returns clips (N, 3, F, H, W), labels."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size * 1.0), torch.arange(size * 1.0), indexing="ij")
    t = torch.arange(frames * 1.0)[:, None, None]
    clips, labels = [], []
    for title in range(4):
        for _ in range(per_title):
            ox, oy, vx, vy, p, bright = torch.rand(6, generator=g).tolist()
            period = 8 + 4 * p
            xs, ys = xx + ox * size + (2 * vx - 1) * t, yy + oy * size + (2 * vy - 1) * t  # (F, H, W)
            sx, sy = torch.sin(2 * math.pi * xs / period), torch.sin(2 * math.pi * ys / period)
            mask = [
                sy > 0,
                sx * sy > 0,
                torch.sin(math.pi * xs / period) + torch.cos(math.pi * ys / (0.8 * period)) > 0.3,
                torch.sin(2 * math.pi * (xs - ys) / (1.4 * period)) > 0,
            ][title]
            ink, paper = _PALETTES[title, 0].view(3, 1, 1, 1), _PALETTES[title, 1].view(3, 1, 1, 1)
            img = torch.where(mask[None], ink, paper) + 0.3 * bright - 0.15
            img = img + 0.05 * torch.randn(img.shape, generator=g)
            clips.append(img.clamp(0, 1) * 2 - 1)
            labels.append(title)
    return torch.stack(clips), torch.tensor(labels)


@pytest.fixture(scope="module")
def trained() -> tuple[TitleClassifier, float]:
    """A classifier trained on 32 synthetic 64x64x17 clips (8 per title), and its training time in seconds."""
    videos, labels = _titles(8, seed=0)
    start = time.perf_counter()
    model = train_classifier(videos, labels, num_classes=4, steps=40, batch=32, seed=0)
    return model, time.perf_counter() - start


def test_classifier_recognises_held_out_titles(trained: tuple[TitleClassifier, float]) -> None:
    model, seconds = trained
    videos, labels = _titles(4, seed=1)
    assert accuracy(model, videos, labels) >= 0.9
    assert seconds < 60, f"training took {seconds:.1f} s"
    print(f"title classifier trained in {seconds:.2f} s")


def test_classifier_outputs_and_any_frame_size(trained: tuple[TitleClassifier, float]) -> None:
    model, _ = trained
    model.train()  # the helpers evaluate in eval mode and put the previous mode back
    for h, w in ((64, 64), (32, 32), (48, 80)):
        videos = _rand_clips((3, 3, 5, h, w), 11)
        assert clip_logits(model, videos).shape == (3, 4)
        assert frame_features(model, videos).shape == (15, FEATURE_DIM)
    assert model.training
    model.eval()
    videos = _rand_clips((2, 3, 4, 32, 32), 12)
    per_frame = model(videos.transpose(1, 2).flatten(0, 1)).detach()  # (8, 4)
    assert torch.allclose(clip_logits(model, videos), per_frame.view(2, 4, 4).mean(1), atol=1e-5)
    from_features = logits_of_features(model, frame_features(model, videos), 2)  # the head alone, no second look
    assert torch.equal(from_features, clip_logits(model, videos))


def test_classifier_training_is_seeded_and_leaves_the_global_rng_alone() -> None:
    videos, labels = _titles(1, seed=2, size=32, frames=3)
    state = torch.get_rng_state()
    a = train_classifier(videos, labels, 4, steps=3, batch=4, seed=5)
    b = train_classifier(videos, labels, 4, steps=3, batch=4, seed=5)
    c = train_classifier(videos, labels, 4, steps=3, batch=4, seed=6)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.head.weight, c.head.weight)


def test_judges_are_classifiers_of_their_own_seeds_averaging_their_probabilities() -> None:
    videos, labels = _titles(1, seed=2, size=32, frames=3)
    judges = train_judges(videos, labels, 4, count=3, steps=3, seed=2)
    alone = train_classifier(videos, labels, 4, steps=3, seed=2001)  # judge k has seed `seed * 1000 + k`
    assert torch.equal(judges[1].head.weight, alone.head.weight)
    assert not torch.equal(judges[0].head.weight, judges[1].head.weight)
    clips = _rand_clips((5, 3, 3, 32, 32), 13)
    probs = [clip_logits(j, clips).softmax(1) for j in judges]
    assert torch.allclose(judged_probs(judges, clips), (probs[0] + probs[1] + probs[2]) / 3, atol=1e-6)
    assert judged_accuracy(judges[:1], videos, labels) == accuracy(judges[0], videos, labels)
    features = judge_features(judges, clips)  # one look per judge gives both kinds of verdict, and its FD features
    assert [torch.equal(f, frame_features(j, clips)) for f, j in zip(features, judges, strict=True)] == [True] * 3
    together, each = judge_predictions(judges, features, len(clips))
    assert torch.equal(together, judged_probs(judges, clips).argmax(1))
    assert [torch.equal(e, clip_logits(j, clips).argmax(1)) for e, j in zip(each, judges, strict=True)] == [True] * 3


def test_judges_together_recognise_held_out_titles() -> None:
    videos, labels = _titles(8, seed=0)
    judges = train_judges(videos, labels, 4, count=2, steps=40, seed=0)
    held, held_labels = _titles(4, seed=1)
    assert judged_accuracy(judges, held, held_labels) >= 0.9


# --- Fréchet distance -----------------------------------------------------------------------------------------


def test_frechet_distance_of_a_set_with_itself_is_zero() -> None:
    feats = torch.randn(400, 16, generator=torch.Generator().manual_seed(13))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_shifted_gaussians_is_the_squared_shift() -> None:
    g = torch.Generator().manual_seed(14)
    shift = torch.tensor([1.0, -1.0, 0.5, 0.0, 0.0, 1.5, 0.0, -0.5])  # ||shift||^2 = 4.75
    a = torch.randn(4000, 8, generator=g) @ torch.diag(torch.linspace(0.5, 2.0, 8))
    assert frechet_distance(a, a + shift) == pytest.approx(4.75, rel=1e-6)  # same covariance exactly
    b = torch.randn(4000, 8, generator=g) @ torch.diag(torch.linspace(0.5, 2.0, 8)) + shift
    assert frechet_distance(a, b) == pytest.approx(4.75, abs=0.2)  # independent samples: estimation noise
    # scaling by 2: Sb = 4 Sa, (Sa Sb)^(1/2) = 2 Sa, so FD = ||mu_a||^2 + Tr(Sa) exactly
    cov_a = torch.cov(a.double().T)
    expected = float(a.double().mean(0).pow(2).sum() + cov_a.trace())
    assert frechet_distance(a, 2 * a) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_is_symmetric() -> None:
    g = torch.Generator().manual_seed(15)
    a = torch.randn(300, 12, generator=g) @ torch.randn(12, 12, generator=g)
    b = torch.randn(500, 12, generator=g) * 3 + 1
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-8)
    assert frechet_distance(a, b) > 1


def test_bootstrap_fd_resamples_clips_deterministically() -> None:
    g = torch.Generator().manual_seed(16)
    clips_a = [torch.randn(17, 8, generator=g) for _ in range(12)]
    clips_b = [torch.randn(17, 8, generator=g) + 0.5 for _ in range(9)]
    first, again = bootstrap_fd(clips_a, clips_b, n_boot=50, seed=3), bootstrap_fd(clips_a, clips_b, n_boot=50, seed=3)
    assert first == again
    assert bootstrap_fd(clips_a, clips_b, n_boot=50, seed=4)["mean"] != first["mean"]
    assert first["std"] > 0 and first["clips_per_draw"] == 9 and first["n_boot"] == 50
    assert first["point"] == pytest.approx(frechet_distance(torch.cat(clips_a), torch.cat(clips_b)))
    assert 0.5 * first["point"] < first["mean"] < 3 * first["point"]


def _two_title_clips(mix: dict[str, int], g: torch.Generator) -> tuple[list[torch.Tensor], list[str]]:
    """Clips of two 'titles' whose features differ by a shift of 4 on every axis, `mix` clips of each."""
    means = {"a": 0.0, "b": 4.0}
    clips = [torch.randn(17, 8, generator=g) + means[t] for t, n in mix.items() for _ in range(n)]
    return clips, [t for t, n in mix.items() for _ in range(n)]


def test_bootstrap_fd_matched_on_groups_ignores_the_title_mix() -> None:
    g = torch.Generator().manual_seed(17)
    balanced, balanced_titles = _two_title_clips({"a": 16, "b": 16}, g)  # the eval prompts every title equally
    held, held_titles = _two_title_clips({"a": 20, "b": 4}, g)  # the held-out clips in the catalog's mix
    same_mix, same_titles = _two_title_clips({"a": 40, "b": 8}, g)  # like training clips: the catalog's mix
    plain = bootstrap_fd(balanced, held, n_boot=50)
    matched = bootstrap_fd(balanced, held, n_boot=50, groups=(balanced_titles, held_titles))
    reference = bootstrap_fd(same_mix, held, n_boot=50, groups=(same_titles, held_titles))
    # same look per title: the mix alone makes the plain FD large, the matched one is at the reference's level
    assert plain["mean"] > 5 * matched["mean"]
    assert matched["mean"] < 2 * reference["mean"]
    assert matched["point"] < 0.2 * plain["point"]
    # a title that looks different is still seen: matching removes the mix, not the look
    shifted = [c + 1.0 if t == "b" else c for c, t in zip(balanced, balanced_titles, strict=True)]
    assert bootstrap_fd(shifted, held, n_boot=50, groups=(balanced_titles, held_titles))["mean"] > 2 * matched["mean"]
    with pytest.raises(ValueError, match="one side only"):
        bootstrap_fd(balanced[:16], held, groups=(balanced_titles[:16], held_titles))


def test_weighted_frechet_distance_with_equal_weights_is_the_plain_one() -> None:
    g = torch.Generator().manual_seed(18)
    a, b = torch.randn(300, 6, generator=g), torch.randn(200, 6, generator=g) + 0.3
    assert frechet_distance(a, b, weights_a=torch.full((300,), 7.0)) == pytest.approx(frechet_distance(a, b), rel=1e-9)
    # weight 0 drops vectors: the same as leaving them out
    w = torch.cat([torch.ones(150), torch.zeros(150)])
    assert frechet_distance(a, b, weights_a=w) == pytest.approx(frechet_distance(a[:150], b), rel=1e-9)


# --- memorisation ---------------------------------------------------------------------------------------------


def test_nearest_frame_distance_is_exact_and_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = _blocky_clips(6, 4, 64, 17)  # 24 frames
    gen = torch.cat([ref[:2], (ref[2:4] + 0.1).clamp(-1, 1), _blocky_clips(2, 4, 64, 18)])  # (6, 3, 4, 64, 64)
    full = nearest_frame_distance(gen, ref)
    assert full.shape == (24,)
    assert torch.equal(full[:8], torch.zeros(8))  # copies: exactly zero, not float32 round-off
    monkeypatch.setattr(memorisation_module, "_CHUNK", 5)
    assert torch.allclose(nearest_frame_distance(gen, ref), full, atol=1e-6)

    def thumbs(v: torch.Tensor) -> torch.Tensor:  # (N*F, 3*32*32) on the [0, 1] scale, in float64
        return ((torch.nn.functional.adaptive_avg_pool2d(v.transpose(1, 2).flatten(0, 1), 32) + 1) / 2).flatten(1)

    brute = torch.cdist(thumbs(gen).double(), thumbs(ref).double()).min(1).values
    assert torch.allclose(full.double(), brute / math.sqrt(3 * 32 * 32), atol=1e-5)


def test_memorisation_flags_copies_of_training_frames() -> None:
    train, held_out = _blocky_clips(20, 5, 32, 19), _blocky_clips(20, 5, 32, 20)
    copies = train[torch.randperm(20, generator=torch.Generator().manual_seed(0))[:10]]
    report = memorisation_report(copies, train, held_out)
    assert report["ratio"] < 0.01 and report["copy_rate"] == 1.0
    assert (report["generated_frames"], report["held_out_frames"], report["train_frames"]) == (50, 100, 100)


def test_memorisation_does_not_flag_new_frames() -> None:
    train, held_out, new = (_blocky_clips(20, 5, 32, s) for s in (21, 22, 23))
    report = memorisation_report(new, train, held_out)
    # new frames from the training distribution look like held-out ones: ratio ~1, copy rate ~5% by design
    assert report["ratio"] > 0.5 and report["copy_rate"] <= 0.15


# --- evaluation prompts ---------------------------------------------------------------------------------------


def _captioned(captions: list[str], titles: list[str]) -> Windows:
    """Windows that only carry captions and titles (no pixels): what the prompt choice reads."""
    spec = WindowSpec(8, 8, 5, 8, 1)
    return Windows(np.zeros((len(captions), 5, 8, 8, 3), np.uint8), [f"c{i}" for i in range(len(captions))],
                   titles, captions, [0.0] * len(captions), np.zeros(len(captions), bool), spec,
                   sorted(set(titles)))  # fmt: skip


def test_eval_prompts_take_every_held_out_caption_then_spread_over_the_training_captions() -> None:
    train = _captioned([f"a{i}" for i in range(10)] + ["b0", "b1"], ["a"] * 10 + ["b"] * 2)
    held = _captioned(["a-held", "b-held"], ["a", "b"])
    prompts, labels = _prompts(train, held, per_title=4)
    assert labels == [0] * 4 + [1] * 4
    # title a: its held-out caption, then 3 training captions spread over its 10; title b: cycled (3 distinct)
    assert prompts[:4] == ["a-held", "a0", "a3", "a6"]
    assert prompts[4:] == ["b-held", "b0", "b1", "b-held"]


def test_the_recognition_interval_is_scipys_wilson_interval() -> None:
    from scipy.stats import binomtest  # scipy comes with imagehash, a dependency

    for hits, n in ((118, 128), (112, 128), (0, 10), (10, 10), (3, 4)):
        ci = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(hits, n) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert (
        wilson_interval(118, 128)[1] - wilson_interval(118, 128)[0]
        > wilson_interval(236, 256)[1] - wilson_interval(236, 256)[0]
    )
    with pytest.raises(ValueError, match="at least one"):
        wilson_interval(0, 0)
