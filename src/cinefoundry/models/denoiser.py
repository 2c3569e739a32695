"""The denoiser: diffusers' `WanTransformer3DModel`, from a typed geometry (tiny on a CPU, Wan 2.1 sizes on GPUs)."""

from __future__ import annotations

from dataclasses import dataclass

from diffusers import WanTransformer3DModel

from cinefoundry.models.frame_timesteps import use_frame_timesteps


@dataclass(frozen=True)
class DenoiserConfig:
    """Geometry of the Wan transformer; `in_channels` and `text_dim` come from the VAE and the text encoder."""

    num_layers: int = 4
    num_attention_heads: int = 4
    attention_head_dim: int = 32
    ffn_dim: int = 512
    patch_size: tuple[int, int, int] = (1, 1, 1)
    freq_dim: int = 64
    rope_max_seq_len: int = 1024

    @property
    def width(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    def build(self, in_channels: int, text_dim: int) -> WanTransformer3DModel:
        """A freshly initialised transformer of this geometry, taking per-frame timesteps."""
        model = WanTransformer3DModel(
            patch_size=self.patch_size,
            num_attention_heads=self.num_attention_heads,
            attention_head_dim=self.attention_head_dim,
            in_channels=in_channels,
            out_channels=in_channels,
            text_dim=text_dim,
            freq_dim=self.freq_dim,
            ffn_dim=self.ffn_dim,
            num_layers=self.num_layers,
            rope_max_seq_len=self.rope_max_seq_len,
        )
        return use_frame_timesteps(model)

    def tokens(self, latent_shape: tuple[int, int, int, int]) -> int:
        """Sequence length for a latent of (C, F, H, W)."""
        _, f, h, w = latent_shape
        pt, ph, pw = self.patch_size
        return (f // pt) * (h // ph) * (w // pw)
