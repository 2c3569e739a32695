"""Fréchet distance between two feature sets, and its clip-level bootstrap (catalog FD).

FD = ||mu_a - mu_b||^2 + Tr(Sa + Sb - 2 (Sa Sb)^(1/2)) of Gaussians fitted to the features. The trace of
the matrix square root equals the sum of square roots of the eigenvalues of the symmetric PSD matrix
Sa^(1/2) Sb Sa^(1/2), so everything is done with `eigh` in float64: no scipy, no complex parts.
With groups (titles), one side is drawn in the other's group mix, so a difference in mix is not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _gaussian(feats: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Mean (D,) and unbiased covariance (D, D), in float64, of features (M, D), optionally weighted (M,)."""
    x = feats.detach().to(torch.float64).flatten(1)
    if x.shape[0] < 2:
        raise ValueError(f"a Fréchet distance needs at least 2 feature vectors per side, got {x.shape[0]}")
    w = torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=torch.float64)
    if weights is not None:
        w = weights.detach().to(torch.float64) / weights.sum()
    mu = w @ x
    xc = x - mu
    # reliability-weights correction: 1 / (1 - sum w^2) is n / (n - 1) for equal weights
    return mu, (xc * w[:, None]).T @ xc / (1 - w.pow(2).sum())


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
def frechet_distance(feats_a: Tensor, feats_b: Tensor, weights_a: Tensor | None = None) -> float:
    """Gaussian Fréchet distance between feature sets (M_a, D) and (M_b, D); symmetric, 0 for equal sets.
    `weights_a` (M_a,) weighs side a's vectors (default: equally)."""
    if feats_a.shape[-1] != feats_b.shape[-1]:
        raise ValueError(f"feature dimensions differ: {feats_a.shape[-1]} vs {feats_b.shape[-1]}")
    return _fd(*_gaussian(feats_a, weights_a), *_gaussian(feats_b))


def _stack(clip_feats: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Concatenated frames (sum F_i, D) of per-clip features (F_i, D), and each frame's clip index."""
    if not clip_feats:
        raise ValueError("no clips")
    feats = torch.cat([c.detach().to(torch.float64).reshape(-1, c.shape[-1]) for c in clip_feats])
    owner = torch.cat([torch.full((c.reshape(-1, c.shape[-1]).shape[0],), i) for i, c in enumerate(clip_feats)])
    return feats, owner


def _frames_of(feats: Tensor, owner: Tensor, picks: Tensor) -> Tensor:
    """Each clip's frames repeated as often as the clip was drawn (`picks`, one count per clip)."""
    return feats.repeat_interleave(picks[owner], dim=0)


def _draw(feats: Tensor, owner: Tensor, n_clips: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Frames of `k` clips drawn with replacement from `n_clips` (a clip drawn twice contributes twice), and
    how often each clip was drawn (n_clips,)."""
    picks = torch.bincount(torch.randint(0, n_clips, (k,), generator=g), minlength=n_clips)
    return _frames_of(feats, owner, picks), picks


def _draw_matched(feats: Tensor, owner: Tensor, members: dict[int, Tensor], counts: Tensor,
                  g: torch.Generator) -> Tensor:  # fmt: skip
    """Frames of clips drawn with replacement within each group: `counts[j]` clips of group j."""
    picks = torch.zeros(int(owner.max()) + 1, dtype=torch.long)
    for j, n in enumerate(counts.tolist()):
        if n:
            idx = members[j][torch.randint(0, len(members[j]), (n,), generator=g)]
            picks += torch.bincount(idx, minlength=len(picks))
    return _frames_of(feats, owner, picks)


def _group_ids(groups_a: Sequence[object], groups_b: Sequence[object]) -> tuple[Tensor, Tensor, list[object]]:
    """Per-clip group indices of both sides over the groups of side b; every group of b must be in a."""
    names, present = sorted(set(groups_b), key=str), set(groups_a)
    missing = [n for n in names if n not in present]
    if missing:
        raise ValueError(f"groups {missing} have clips on one side only: they cannot be matched")
    index = {n: j for j, n in enumerate(names)}
    ga = torch.tensor([index.get(n, -1) for n in groups_a])
    return ga, torch.tensor([index[n] for n in groups_b]), names


@torch.no_grad()
def bootstrap_fd(
    clip_feats_a: Sequence[Tensor],
    clip_feats_b: Sequence[Tensor],
    n_boot: int = 200,
    seed: int = 0,
    groups: tuple[Sequence[object], Sequence[object]] | None = None,
) -> dict[str, float | int]:
    """Fréchet distance with a clip-level bootstrap: `point` on all frames, `mean`/`std` over `n_boot` draws.

    Each draw resamples clips (not frames) with replacement, the same number on both sides: the smaller
    side's clip count, so the larger side is subsampled to it. With `groups` (a label per clip of each side),
    side a is drawn in the group counts of side b's draw, and the point estimate weighs a's frames to b's
    group shares. Deterministic for a given `seed`.
    """
    feats_a, owner_a = _stack(clip_feats_a)
    feats_b, owner_b = _stack(clip_feats_b)
    k = min(len(clip_feats_a), len(clip_feats_b))
    g = torch.Generator().manual_seed(seed)
    if groups is None:
        point = frechet_distance(feats_a, feats_b)
    else:
        ga, gb, names = _group_ids(*groups)
        members = {j: torch.nonzero(ga == j).flatten() for j in range(len(names))}
        point = frechet_distance(feats_a, feats_b, weights_a=_matched_weights(ga[owner_a], gb[owner_b], len(names)))
    draws = []
    for _ in range(n_boot):
        if groups is None:
            a = _draw(feats_a, owner_a, len(clip_feats_a), k, g)[0]
            b = _draw(feats_b, owner_b, len(clip_feats_b), k, g)[0]
        else:
            b, picks_b = _draw(feats_b, owner_b, len(clip_feats_b), k, g)
            counts = torch.bincount(gb, weights=picks_b.double(), minlength=len(names)).round().long()
            a = _draw_matched(feats_a, owner_a, members, counts, g)
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


def _matched_weights(frame_groups_a: Tensor, frame_groups_b: Tensor, n_groups: int) -> Tensor:
    """Weights of side a's frames that give each group side b's share of frames; groups b lacks weigh 0."""
    share_b = torch.bincount(frame_groups_b, minlength=n_groups).double() / len(frame_groups_b)
    known = frame_groups_a >= 0
    count_a = torch.bincount(frame_groups_a[known], minlength=n_groups).double()
    w = torch.zeros(len(frame_groups_a), dtype=torch.float64)
    w[known] = (share_b / count_a.clamp_min(1))[frame_groups_a[known]]
    return w
