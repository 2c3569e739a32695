"""The video VAE: an LTX-style autoencoder (pixel-unshuffle first: cheap to train from scratch on a CPU) or
the Wan 2.1 VAE (for real Wan weights). Both are diffusers classes, saved and loaded with diffusers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers import AutoencoderKLLTXVideo, AutoencoderKLWan


@dataclass(frozen=True)
class VAEConfig:
    """Geometry of the VAE. `kind` is `ltx` (trained here) or `wan` (loaded from Wan 2.1 weights)."""

    kind: str = "ltx"
    latent_channels: int = 16
    block_out_channels: tuple[int, ...] = (32, 64)
    layers_per_block: int = 1
    patch_size: int = 4  # pixels unshuffled into channels before the first convolution
    downsample: tuple[bool, ...] = (True, False)  # per block: halve time and space at its end

    @property
    def spatial_factor(self) -> int:
        return self.patch_size * 2 ** sum(self.downsample) if self.kind == "ltx" else 8

    @property
    def temporal_factor(self) -> int:
        return 2 ** sum(self.downsample) if self.kind == "ltx" else 4

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(C, F, H, W) of the latent of a (3, frames, height, width) clip."""
        if (frames - 1) % self.temporal_factor:
            raise ValueError(f"{frames} frames: this VAE needs {self.temporal_factor}k+1 frames")
        if height % self.spatial_factor or width % self.spatial_factor:
            raise ValueError(f"{width}x{height}: this VAE needs multiples of {self.spatial_factor}")
        f = (frames - 1) // self.temporal_factor + 1
        return self.latent_channels, f, height // self.spatial_factor, width // self.spatial_factor

    def build(self) -> AutoencoderKLLTXVideo | AutoencoderKLWan:
        """A freshly initialised VAE of this geometry."""
        if self.kind == "wan":
            return AutoencoderKLWan(z_dim=self.latent_channels)
        n = len(self.block_out_channels)
        layers = (self.layers_per_block,) * (n + 1)
        return AutoencoderKLLTXVideo(
            latent_channels=self.latent_channels,
            block_out_channels=self.block_out_channels,
            decoder_block_out_channels=self.block_out_channels,
            down_block_types=("LTXVideoDownBlock3D",) * n,
            layers_per_block=layers,
            decoder_layers_per_block=layers,
            spatio_temporal_scaling=self.downsample,
            decoder_spatio_temporal_scaling=self.downsample,
            decoder_inject_noise=(False,) * (n + 1),
            downsample_type=("conv",) * n,
            upsample_residual=(False,) * n,
            upsample_factor=(1,) * n,
            patch_size=self.patch_size,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )


def load_vae(path: str, kind: str) -> AutoencoderKLLTXVideo | AutoencoderKLWan:
    """A saved VAE folder (diffusers layout)."""
    cls = AutoencoderKLWan if kind == "wan" else AutoencoderKLLTXVideo
    return cls.from_pretrained(path)


def latent_stats(vae: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel latent mean and std, shaped (1, C, 1, 1, 1), used to normalise latents for the denoiser."""
    if isinstance(vae, AutoencoderKLWan):
        mean, std = torch.tensor(vae.config.latents_mean), torch.tensor(vae.config.latents_std)
    else:
        mean, std = vae.latents_mean, vae.latents_std
    return mean.view(1, -1, 1, 1, 1).float(), std.view(1, -1, 1, 1, 1).float()


def set_latent_stats(vae: AutoencoderKLLTXVideo, mean: torch.Tensor, std: torch.Tensor) -> None:
    """Store measured latent statistics in the VAE's own buffers (saved with it, read by LTX-style pipelines)."""
    vae.latents_mean.copy_(mean.flatten())
    vae.latents_std.copy_(std.flatten())


@torch.no_grad()
def encode(vae: torch.nn.Module, video: torch.Tensor, sample: bool = False) -> torch.Tensor:
    """(B, 3, F, H, W) in [-1, 1] -> normalised latents (B, C, f, h, w) (the posterior mean unless `sample`)."""
    dist = vae.encode(video).latent_dist
    z = dist.sample() if sample else dist.mode()
    mean, std = latent_stats(vae)
    return (z - mean.to(z)) / std.to(z)


def posterior(vae: torch.nn.Module, video: torch.Tensor) -> Any:
    """The latent distribution (raw, not normalised) of a batch of clips."""
    return vae.encode(video).latent_dist


@torch.no_grad()
def decode(vae: torch.nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latents -> (B, 3, F, H, W) in [-1, 1]."""
    mean, std = latent_stats(vae)
    out = vae.decode(latents * std.to(latents) + mean.to(latents)).sample
    return out.clamp(-1, 1)


@torch.no_grad()
def reconstruct(vae: torch.nn.Module, video: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """Encode and decode clips (B, 3, F, H, W) in [-1, 1], `batch` at a time (the posterior mean)."""
    return torch.cat([decode(vae, encode(vae, video[i : i + batch])) for i in range(0, len(video), batch)])
