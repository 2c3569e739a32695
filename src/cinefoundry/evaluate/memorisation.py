"""Memorisation: how close generated frames come to training frames, against held-out material.

Frames are compared as 32x32 RGB thumbnails on the [0, 1] scale by RMSE. Held-out frames are new to the
model, so their nearest distance to the training set is the natural baseline: generated frames much closer
to training frames than held-out ones are (ratio << 1, many below the held-out 5th percentile) are copies.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

THUMB = 32  # thumbnails are THUMB x THUMB: small enough for 10k x 10k comparisons, enough to see a copy
COPY_QUANTILE = 0.05
_CHUNK = 1024  # rows per side of one block of the pairwise distance matrix: (1024, 1024) float32 = 4 MiB


def thumbnails(frames_or_videos: Tensor) -> Tensor:
    """Flattened 32x32 thumbnails (M, C*32*32) in [0, 1] of clips (N, C, F, H, W) or frames (M, C, H, W)."""
    x = frames_or_videos.float()
    if x.ndim == 5:
        x = x.transpose(1, 2).flatten(0, 1)  # (N*F, C, H, W), clip-major
    if x.ndim != 4:
        raise ValueError(f"expected (N, C, F, H, W) clips or (M, C, H, W) frames, got {tuple(x.shape)}")
    x = (x.clamp(-1.0, 1.0) + 1.0) * 0.5
    out = []
    for chunk in x.split(_CHUNK):  # area averaging is the anti-aliased downsample; chunked to bound memory
        out.append(F.adaptive_avg_pool2d(chunk, THUMB).flatten(1))
    return torch.cat(out) if out else x.new_zeros(0, x.shape[1] * THUMB * THUMB)


@torch.no_grad()
def nearest_frame_distance(generated: Tensor, reference: Tensor) -> Tensor:
    """For each generated frame, the minimum RMSE (M_gen,) to any reference frame, on 32x32 thumbnails.

    Both arguments are clips (N, C, F, H, W) or frames (M, C, H, W) in [-1, 1]. The pairwise search is done
    in blocks, so memory stays flat for 10k x 10k frames.
    """
    gen, ref = thumbnails(generated), thumbnails(reference)  # (M_g, D), (M_r, D)
    if ref.shape[0] == 0:
        raise ValueError("no reference frames")
    # centring on the reference mean shrinks the norms, so ||x||^2 + ||y||^2 - 2 x.y cancels less in float32
    centre = ref.mean(0)
    gen_c, ref_c = gen - centre, ref - centre
    ref_sq = ref_c.pow(2).sum(1)  # (M_r,)
    nearest = torch.empty(gen.shape[0], dtype=torch.long)
    for g0 in range(0, gen.shape[0], _CHUNK):
        g = gen_c[g0 : g0 + _CHUNK]
        g_sq = g.pow(2).sum(1, keepdim=True)  # (b, 1)
        best = torch.full((g.shape[0],), float("inf"))
        best_idx = torch.zeros(g.shape[0], dtype=torch.long)
        for r0 in range(0, ref.shape[0], _CHUNK):
            d2 = g_sq + ref_sq[None, r0 : r0 + _CHUNK] - 2.0 * g @ ref_c[r0 : r0 + _CHUNK].T  # (b, r)
            val, idx = d2.min(1)
            better = val < best
            best = torch.where(better, val, best)
            best_idx = torch.where(better, idx + r0, best_idx)
        nearest[g0 : g0 + g.shape[0]] = best_idx
    # the expanded form only chooses the neighbour; its distance is recomputed exactly, pair by pair
    dist = gen.new_empty(gen.shape[0])
    for g0 in range(0, gen.shape[0], _CHUNK):
        pair = gen[g0 : g0 + _CHUNK] - ref[nearest[g0 : g0 + _CHUNK]]  # (b, D)
        dist[g0 : g0 + pair.shape[0]] = pair.pow(2).mean(1).sqrt()
    return dist


def _frame_count(frames_or_videos: Tensor) -> int:
    shape = frames_or_videos.shape
    return shape[0] * shape[2] if len(shape) == 5 else shape[0]


@torch.no_grad()
def memorisation_report(generated: Tensor, train: Tensor, held_out: Tensor) -> dict[str, float | int]:
    """Nearest-training-frame distances of generated frames, against held-out frames as the baseline.

    `median_generated` / `median_held_out`: median nearest RMSE to a training frame; `ratio`: their quotient
    (about 1 for novel output, near 0 for copies); `copy_rate`: fraction of generated frames closer to a
    training frame than the 5th percentile of held-out distances (`copy_threshold`).
    """
    gen_d = nearest_frame_distance(generated, train)
    held_d = nearest_frame_distance(held_out, train)
    if gen_d.numel() == 0 or held_d.numel() == 0:
        raise ValueError("memorisation needs generated and held-out frames")
    med_gen, med_held = float(gen_d.median()), float(held_d.median())
    threshold = float(torch.quantile(held_d.double(), COPY_QUANTILE))
    ratio = med_gen / med_held if med_held > 0 else (0.0 if med_gen == 0 else float("inf"))
    return {
        "median_generated": med_gen,
        "median_held_out": med_held,
        "ratio": ratio,
        "copy_threshold": threshold,
        "copy_rate": float((gen_d < threshold).double().mean()),
        "generated_frames": int(gen_d.numel()),
        "held_out_frames": int(held_d.numel()),
        "train_frames": _frame_count(train),
    }
