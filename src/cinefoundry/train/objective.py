"""Flow matching as pure functions: timesteps, conditioning masks, noisy inputs, the loss.

Convention (as diffusers' FlowMatchEulerDiscreteScheduler): x_sigma = (1 - sigma) x0 + sigma noise, the model
predicts the velocity noise - x0, and is told the timestep 1000 * sigma. Conditioning gives some latent frames
clean (sigma 0, their own per-token timestep) and leaves them out of the loss, so one model serves
text-to-video, image-to-video, keyframes, extension and interpolation.
"""

from __future__ import annotations

import torch

from cinefoundry.models.recipes import TrainConfig

NUM_TRAIN_TIMESTEPS = 1000


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    """The resolution shift of SD3/Wan: more of the schedule at high noise when shift > 1."""
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def sample_sigmas(n: int, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """(n,) noise levels: logit-normal, then shifted."""
    u = torch.randn(n, generator=gen) * cfg.timestep_std + cfg.timestep_mean
    return shift_sigmas(torch.sigmoid(u), cfg.shift)


def condition_masks(n: int, frames: int, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """(n, frames) bool: latent frames given clean. Modes by probability: first, last, both, random, prefix."""
    mask = torch.zeros(n, frames, dtype=torch.bool)
    draw = torch.rand(n, generator=gen)
    extra = torch.rand(n, frames, generator=gen)
    prefix = torch.randint(1, max(2, frames), (n,), generator=gen)
    edges = torch.tensor([cfg.cond_first, cfg.cond_last, cfg.cond_both, cfg.cond_random, cfg.cond_prefix]).cumsum(0)
    if frames < 2:
        return mask  # a single latent frame: nothing to condition on without giving the answer away
    for i in range(n):
        d = float(draw[i])
        if d < edges[0]:
            mask[i, 0] = True
        elif d < edges[1]:
            mask[i, -1] = True
        elif d < edges[2]:
            mask[i, 0] = mask[i, -1] = True
        elif d < edges[3]:
            mask[i] = extra[i] < 0.3
            mask[i, torch.argmax(extra[i])] = False  # always leave something to predict
        elif d < edges[4]:
            mask[i, : int(prefix[i])] = True
    return mask


def noisy_latents(
    x0: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """x0, noise (B, C, F, H, W); sigmas (B,); mask (B, F) -> (inputs, per-frame sigmas (B, F))."""
    frame_sigma = sigmas[:, None].expand(-1, x0.shape[2]).masked_fill(mask, 0.0)
    s = frame_sigma[:, None, :, None, None].to(x0)
    return (1 - s) * x0 + s * noise, frame_sigma


def frame_timesteps(frame_sigmas: torch.Tensor) -> torch.Tensor:
    """(B, F) sigmas -> (B, F) timesteps as the denoiser is told them (models/frame_timesteps.py)."""
    return frame_sigmas * NUM_TRAIN_TIMESTEPS


def flow_loss(pred: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared velocity error over the frames to predict; each sample weighs the same.

    Per-sample means averaged over the batch: with equal per-rank batches, DDP's gradient average equals the
    single-process gradient of the same global batch.
    """
    keep = (~mask)[:, None, :, None, None].to(pred)
    err = (pred.float() - (noise - x0).float()).pow(2) * keep
    per_sample = err.flatten(1).sum(1) / (keep.expand_as(err).flatten(1).sum(1)).clamp(min=1)
    return per_sample.mean()
