"""Reconstruction quality of video clips: PSNR, SSIM (Wang et al. 2004), and the mean-clip baseline.

Clips are float tensors (N, C, F, H, W) in [-1, 1]; every score is computed on the [0, 1] scale (peak 1),
after clamping, so a decoder that overshoots is scored on what would be displayed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

PSNR_CAP_DB = 100.0  # identical clips would give +inf; a finite cap keeps means and JSON reports usable
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
_CHUNK_CLIPS = 8  # clips per SSIM batch: bounds the (chunk*C*F, 1, H, W) intermediate maps


def to_unit(videos: Tensor) -> Tensor:
    """Map [-1, 1] clips to [0, 1] (clamped), as float32."""
    return (videos.float().clamp(-1.0, 1.0) + 1.0) * 0.5


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.ndim != 5 or a.shape != b.shape:
        raise ValueError(f"expected two (N, C, F, H, W) clips of one shape: {tuple(a.shape)} and {tuple(b.shape)}")


@torch.no_grad()
def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Per-clip PSNR in dB (N,) on the [0, 1] scale; identical clips score PSNR_CAP_DB (100 dB), not inf."""
    _check_pair(a, b)
    mse = (to_unit(a).double() - to_unit(b).double()).pow(2).flatten(1).mean(1)  # (N,)
    # 10*log10(1/mse) reaches the cap at mse = 1e-10; clamping there keeps the log finite
    db = -10.0 * torch.log10(mse.clamp_min(10.0 ** (-PSNR_CAP_DB / 10.0)))
    return db.clamp_max(PSNR_CAP_DB).float()


def gaussian_window(size: int, sigma: float = SSIM_SIGMA) -> Tensor:
    """A normalised 2D Gaussian window (1, 1, size, size), float32."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).float()[None, None]


def _window_size(h: int, w: int) -> int:
    """The 11-px window, shrunk to the largest odd size that fits frames smaller than 11 px."""
    size = min(SSIM_WINDOW, h, w)
    return size if size % 2 else size - 1


def _ssim_frames(x: Tensor, y: Tensor, window: Tensor) -> Tensor:
    """Mean SSIM of each single-channel frame: x, y (B, 1, H, W) in [0, 1] -> (B,)."""
    c1, c2 = SSIM_K1**2, SSIM_K2**2  # dynamic range L = 1
    # 'valid' filtering, as in the reference implementation: no padded borders enter the statistics
    stats = F.conv2d(torch.cat([x, y, x * x, y * y, x * y], 1).flatten(0, 1)[:, None], window)
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.unflatten(0, (x.shape[0], 5)).squeeze(2).unbind(1)  # each (B, h, w)
    var_x, var_y = e_xx - mu_x**2, e_yy - mu_y**2
    cov = e_xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (num / den).flatten(1).mean(1)


@torch.no_grad()
def ssim(a: Tensor, b: Tensor) -> Tensor:
    """Per-clip SSIM (N,): 11x11 Gaussian window (sigma 1.5), per frame and channel on [0, 1], averaged.

    Frames smaller than 11 px use the largest odd window that fits (same sigma).
    """
    _check_pair(a, b)
    n, c, f, h, w = a.shape
    window = gaussian_window(_window_size(h, w))
    out = []
    for start in range(0, n, _CHUNK_CLIPS):
        # (k, C, F, H, W) -> (k*C*F, 1, H, W): every channel of every frame is one single-channel image
        x = to_unit(a[start : start + _CHUNK_CLIPS]).double().reshape(-1, 1, h, w)
        y = to_unit(b[start : start + _CHUNK_CLIPS]).double().reshape(-1, 1, h, w)
        per_image = _ssim_frames(x, y, window.double())
        out.append(per_image.view(-1, c * f).mean(1))
    return torch.cat(out).float() if out else torch.zeros(0)


@torch.no_grad()
def mean_clip_baseline(train: Tensor, held_out: Tensor) -> dict[str, float]:
    """PSNR/SSIM of predicting every held-out clip by the per-pixel mean of the training clips.

    A VAE whose held-out reconstructions do not beat this by a wide margin (10 dB) has learnt little.
    Returns mean `psnr_db`, mean `ssim` over held-out clips, and the clip counts.
    """
    if train.ndim != 5 or train.shape[1:] != held_out.shape[1:] or len(train) == 0:
        raise ValueError(f"train {tuple(train.shape)} and held-out {tuple(held_out.shape)} clips must share C, F, H, W")
    mean = train.double().mean(0, keepdim=True).float()  # (1, C, F, H, W)
    guess = mean.expand_as(held_out)
    p, s = psnr(guess, held_out), ssim(guess, held_out)
    return {
        "psnr_db": float(p.mean()),
        "ssim": float(s.mean()),
        "train_clips": len(train),
        "held_out_clips": len(held_out),
    }


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for an MSE on the [0, 1] scale, capped like `psnr` (reference for reports and tests)."""
    return PSNR_CAP_DB if mse <= 0 else min(PSNR_CAP_DB, -10.0 * math.log10(mse))
