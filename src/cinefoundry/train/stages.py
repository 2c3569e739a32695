"""The two training stages as loss functions over in-memory data, plus the latent and text encoding between.

Stage 1 trains the VAE on pixel windows (MSE + a small KL); its reconstruction must beat the mean clip before
stage 2 runs. Stage 2 trains the denoiser with flow matching on cached, normalised latents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import torch

from cinefoundry.models.recipes import TrainConfig
from cinefoundry.models.text import TextEncoder
from cinefoundry.models.vae import encode
from cinefoundry.train import objective


def to_video(frames: np.ndarray) -> torch.Tensor:
    """(B, F, H, W, 3) uint8 -> (B, 3, F, H, W) float in [-1, 1]."""
    return torch.from_numpy(frames).permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


class VAEStep(torch.nn.Module):
    """Encode, sample with given noise, decode: one forward, so DDP/FSDP see (and sync) the whole VAE."""

    def __init__(self, vae: torch.nn.Module, noise_scale: float = 1.0):
        super().__init__()
        self.vae, self.noise_scale = vae, noise_scale

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dist = self.vae.encode(x).latent_dist
        z = dist.mean + self.noise_scale * dist.std * eps
        return self.vae.decode(z).sample, dist.mean, dist.logvar


def vae_loss_fn(videos: np.ndarray, kl_weight: float, latent_shape: tuple[int, ...], frames: int,
                device: torch.device, size: tuple[int, int] | None = None) -> Callable:  # fmt: skip
    """Reconstruction loss of a `VAEStep` on random crops of windows `videos` (N, F, H, W, 3), `frames` long and
    `size` (height, width) large (None: whole frames), with random horizontal flips; `latent_shape` (C, f, h, w)
    of a crop sizes the posterior noise, drawn for the whole global batch. The VAE is convolutional in time and
    space: small crops teach it as well, for less compute.
    """
    h, w = size or videos.shape[2:4]

    def loss(model: torch.nn.Module, idx: torch.Tensor, part: slice, gen: torch.Generator) -> torch.Tensor:
        flips = torch.rand(len(idx), generator=gen) < 0.5
        eps = torch.randn((len(idx), *latent_shape), generator=gen)[part].to(device)
        starts = torch.randint(0, videos.shape[1] - frames + 1, (len(idx),), generator=gen)
        picked = [videos[i, s : s + frames] for i, s in zip(idx.tolist(), starts.tolist(), strict=True)]
        if size is not None:  # drawn only for crops: whole-frame runs draw exactly as before
            ys = torch.randint(0, videos.shape[2] - h + 1, (len(idx),), generator=gen).tolist()
            xs = torch.randint(0, videos.shape[3] - w + 1, (len(idx),), generator=gen).tolist()
            picked = [v[:, y : y + h, x : x + w] for v, y, x in zip(picked, ys, xs, strict=True)]
        x = to_video(np.stack(picked))
        x = torch.where(flips[:, None, None, None, None], x.flip(-1), x)[part].to(device)
        recon, mean, logvar = model(x, eps)
        mean, logvar = mean.float(), logvar.float()  # bf16 under autocast: the KL's sums want fp32
        mse = (recon.float() - x).pow(2).flatten(1).mean(1)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1)
        return (mse + kl_weight * kl / x[0].numel()).mean()

    return loss


def denoiser_loss_fn(latents: torch.Tensor, text: torch.Tensor, caption_index: torch.Tensor, cfg: TrainConfig,
                     device: torch.device, title_index: torch.Tensor | None = None,
                     mirror: tuple[torch.Tensor, torch.Tensor] | None = None) -> Callable:  # fmt: skip
    """Flow-matching loss on `latents` (N, C, F, H, W); `text` (U, L, D) with row 0 the empty prompt;
    `caption_index` (N,) the text row of each latent, `title_index` (N,) the row of its title's shared words.
    Captions drop to the empty prompt with cfg.caption_dropout, and to the title's words with
    cfg.caption_title_only. `mirror` (latents, caption rows) of the mirrored windows replace a cfg.flip share.
    """
    n_frames = latents.shape[2]
    title_index = caption_index if title_index is None else title_index

    def loss(model: torch.nn.Module, idx: torch.Tensor, part: slice, gen: torch.Generator) -> torch.Tensor:
        b = len(idx)
        x0 = latents[idx]
        noise = torch.randn(x0.shape, generator=gen)
        sigmas = objective.sample_sigmas(b, cfg, gen)
        mask = objective.condition_masks(b, n_frames, cfg, gen)
        draw = torch.rand(b, generator=gen)
        captions = caption_index[idx]
        if mirror is not None:  # drawn last: a run without mirroring draws exactly as before
            flip = torch.rand(b, generator=gen) < cfg.flip
            x0 = torch.where(flip[:, None, None, None, None], mirror[0][idx], x0)
            captions = torch.where(flip, mirror[1][idx], captions)
        rows = torch.where(draw < cfg.caption_dropout + cfg.caption_title_only, title_index[idx], captions)
        rows = torch.where(draw < cfg.caption_dropout, torch.zeros_like(rows), rows)
        x0, noise, sigmas, mask, rows = x0[part], noise[part], sigmas[part], mask[part], rows[part]
        inputs, frame_sigmas = objective.noisy_latents(x0, noise, sigmas, mask)
        t = objective.frame_timesteps(frame_sigmas)
        pred = model(inputs.to(device), t.to(device), text[rows].to(device), return_dict=False)[0]
        return objective.flow_loss(pred.float(), x0.to(device), noise.to(device), mask.to(device))

    return loss


def title_phrases(captions: list[str], title_ids: list[str]) -> dict[str, str]:
    """The whole sentences every caption of a title starts with (the structured captions' 'A shot from Sintel
    (2010), an animated short film.'); '' where a title has one distinct caption or its captions share none."""
    out = {}
    for title in dict.fromkeys(title_ids):
        mine = sorted({c for c, t in zip(captions, title_ids, strict=True) if t == title})
        first, last = mine[0], mine[-1]  # sorted: their common start is everyone's
        n = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
        prefix = first[:n] if len(mine) > 1 else ""
        out[title] = prefix[: prefix.rfind(". ") + 1].strip()
    return out


def bucketed(loss_fns: list[Callable], share: float) -> Callable:
    """One loss over several (frames, height, width) buckets: each step draws its bucket first from the step's
    generator (the same on every rank), the main bucket with probability 1 - share, the others evenly."""
    if len(loss_fns) == 1:
        return loss_fns[0]
    probs = torch.tensor([1.0 - share] + [share / (len(loss_fns) - 1)] * (len(loss_fns) - 1))

    def loss(model: torch.nn.Module, idx: torch.Tensor, part: slice, gen: torch.Generator) -> torch.Tensor:
        chosen = int(torch.multinomial(probs, 1, generator=gen))
        return loss_fns[chosen](model, idx, part, gen)

    return loss


def through(order: np.ndarray, loss_fn: Callable) -> Callable:
    """A loss over positions of `order` (a resampled list of item indices) instead of over the items."""
    lookup = torch.from_numpy(order)

    def loss(model: torch.nn.Module, idx: torch.Tensor, part: slice, gen: torch.Generator) -> torch.Tensor:
        return loss_fn(model, lookup[idx], part, gen)

    return loss


def vae_digest(vae: torch.nn.Module) -> str:
    """A digest of the VAE's weights (and latent statistics): the key of its latent cache."""
    h = hashlib.sha256()
    for name, t in sorted(vae.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def encode_windows(vae: torch.nn.Module, videos: np.ndarray, batch: int, device: torch.device,
                   on_batch: Callable[[], None] | None = None) -> torch.Tensor:  # fmt: skip
    """Normalised latents (N, C, f, h, w) of windows (N, F, H, W, 3), the posterior mean of each."""
    vae.eval()
    out = []
    for i in range(0, len(videos), batch):
        out.append(encode(vae, to_video(videos[i : i + batch]).to(device)).float().cpu())
        if on_batch:
            on_batch()
    return torch.cat(out)


@torch.no_grad()
def measure_latent_stats(vae: torch.nn.Module, videos: np.ndarray, batch: int, device: torch.device):
    """Per-channel mean and std of the raw posterior means over `videos`."""
    vae.eval()
    zs = [vae.encode(to_video(videos[i : i + batch]).to(device)).latent_dist.mean.float().cpu()
          for i in range(0, len(videos), batch)]  # fmt: skip
    z = torch.cat(zs).transpose(0, 1).flatten(1)  # (C, everything)
    return z.mean(1), z.std(1).clamp(min=1e-4)


@torch.no_grad()
def encode_texts(encoder: TextEncoder, captions: list[str], batch: int = 64) -> torch.Tensor:
    """(len(captions), L, D) embeddings."""
    return torch.cat([encoder(captions[i : i + batch]) for i in range(0, len(captions), batch)])
