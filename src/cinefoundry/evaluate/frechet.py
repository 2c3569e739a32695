"""Fréchet distance between two feature sets, and its clip-level bootstrap (catalog FD).

FD = ||mu_a - mu_b||^2 + Tr(Sa + Sb - 2 (Sa Sb)^(1/2)) of Gaussians fitted to the features. The trace of
the matrix square root equals the sum of square roots of the eigenvalues of the symmetric PSD matrix
Sa^(1/2) Sb Sa^(1/2), so everything is done with `eigh` in float64: no scipy, no complex parts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _gaussian(feats: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and unbiased covariance (D, D), in float64, of features (M, D)."""
    x = feats.detach().to(torch.float64).flatten(1)
    if x.shape[0] < 2:
        raise ValueError(f"a Fréchet distance needs at least 2 feature vectors per side, got {x.shape[0]}")
    mu = x.mean(0)
    xc = x - mu
    return mu, xc.T @ xc / (x.shape[0] - 1)


def _psd_sqrt(m: Tensor) -> Tensor:
    """Symmetric square root of a symmetric PSD matrix (negative round-off eigenvalues clamped to 0)."""
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def _fd(mu_a: Tensor, cov_a: Tensor, mu_b: Tensor, cov_b: Tensor) -> float:
    root_a = _psd_sqrt(cov_a)
    inner = root_a @ cov_b @ root_a  # (D, D), symmetric PSD, same non-zero spectrum as Sa Sb
    tr_sqrt = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    fd = (mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * tr_sqrt
    return max(float(fd), 0.0)  # tiny negatives are round-off: FD is a squared distance


@torch.no_grad()
def frechet_distance(feats_a: Tensor, feats_b: Tensor) -> float:
    """Gaussian Fréchet distance between feature sets (M_a, D) and (M_b, D); symmetric, 0 for equal sets."""
    if feats_a.shape[-1] != feats_b.shape[-1]:
        raise ValueError(f"feature dimensions differ: {feats_a.shape[-1]} vs {feats_b.shape[-1]}")
    return _fd(*_gaussian(feats_a), *_gaussian(feats_b))


def _stack(clip_feats: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Concatenated frames (sum F_i, D) of per-clip features (F_i, D), and each frame's clip index."""
    if not clip_feats:
        raise ValueError("no clips")
    feats = torch.cat([c.detach().to(torch.float64).reshape(-1, c.shape[-1]) for c in clip_feats])
    owner = torch.cat([torch.full((c.reshape(-1, c.shape[-1]).shape[0],), i) for i, c in enumerate(clip_feats)])
    return feats, owner


def _draw(feats: Tensor, owner: Tensor, n_clips: int, k: int, g: torch.Generator) -> Tensor:
    """Frames of `k` clips drawn with replacement from `n_clips` (a clip drawn twice contributes twice)."""
    picks = torch.bincount(torch.randint(0, n_clips, (k,), generator=g), minlength=n_clips)  # (n_clips,)
    return feats.repeat_interleave(picks[owner], dim=0)  # each frame repeated as often as its clip was drawn


@torch.no_grad()
def bootstrap_fd(
    clip_feats_a: Sequence[Tensor], clip_feats_b: Sequence[Tensor], n_boot: int = 200, seed: int = 0
) -> dict[str, float | int]:
    """Fréchet distance with a clip-level bootstrap: `point` on all frames, `mean`/`std` over `n_boot` draws.

    Each draw resamples clips (not frames) with replacement, the same number on both sides: the smaller
    side's clip count, so the larger side is subsampled to it. Deterministic for a given `seed`.
    """
    feats_a, owner_a = _stack(clip_feats_a)
    feats_b, owner_b = _stack(clip_feats_b)
    point = frechet_distance(feats_a, feats_b)
    k = min(len(clip_feats_a), len(clip_feats_b))
    g = torch.Generator().manual_seed(seed)
    draws = []
    for _ in range(n_boot):
        a = _draw(feats_a, owner_a, len(clip_feats_a), k, g)
        b = _draw(feats_b, owner_b, len(clip_feats_b), k, g)
        if a.shape[0] >= 2 and b.shape[0] >= 2:
            draws.append(frechet_distance(a, b))
    values = torch.tensor(draws, dtype=torch.float64)
    return {
        "point": point,
        "mean": float(values.mean()) if len(draws) else float("nan"),
        "std": float(values.std()) if len(draws) > 1 else float("nan"),
        "clips_per_draw": k,
        "n_boot": len(draws),
    }
