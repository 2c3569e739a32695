"""`StudioPipeline`: text-to-video with optional clean conditioning frames, diffusers style.

Numbered steps ending in an explicit denoising loop. Conditioning latent frames (an image at the start, a
keyframe at the end, a clip to extend) are held clean with timestep 0, exactly as the model was trained, so
one model serves every mode. Guidance runs the conditional and unconditional passes as one batch, and only at
the noise levels of the guidance interval (Kynkaanniemi et al. 2024); elsewhere the conditional pass alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from cinefoundry.models.bundle import ModelBundle
from cinefoundry.models.vae import decode


class StudioPipeline:
    """Sample clips from a `ModelBundle`."""

    def __init__(self, bundle: ModelBundle, device: torch.device | str = "cpu"):
        self.bundle, self.device = bundle, torch.device(device)
        self.transformer = bundle.transformer.to(self.device).eval()
        self.vae = bundle.vae.to(self.device).eval()

    def scheduler(self) -> FlowMatchEulerDiscreteScheduler:
        """A fresh scheduler per call: `set_timesteps` and `step` keep state inside the instance."""
        return FlowMatchEulerDiscreteScheduler.from_config(self.bundle.scheduler.config)

    @torch.no_grad()
    def __call__(
        self,
        prompts: list[str],
        *,
        negative_prompt: str = "",
        seeds: list[int] | None = None,
        steps: int = 30,
        guidance: float = 4.0,
        guidance_interval: tuple[float, float] | None = None,
        cond_latents: torch.Tensor | None = None,
        cond_mask: torch.Tensor | None = None,
        init_latents: torch.Tensor | None = None,
        strength: float = 1.0,
        latent_shape: tuple[int, int, int, int] | None = None,
        batch: int = 16,
        on_step: Callable[[], None] | None = None,
        output: str = "video",
    ) -> torch.Tensor:
        """Clips (B, 3, F, H, W) in [-1, 1] (or latents with output="latent").

        cond_latents (B, C, f, h, w) normalised latents and cond_mask (B, f) bool mark latent frames given clean.
        init_latents (B, C, f, h, w) with strength < 1 re-render a clip (video-to-video): denoising starts from
        the clip noised to sigma = strength and runs the last `strength` share of the steps.
        latent_shape (C, f, h, w) asks for another size or length than the model's training window.
        guidance_interval (lo, hi): guide only at steps with lo < sigma <= hi (None: the model's recipe's).
        """
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], not {strength}")
        seeds = seeds if seeds is not None else list(range(len(prompts)))
        shape = tuple(latent_shape or self.bundle.latent_shape)
        interval = tuple(guidance_interval or self.bundle.recipe.guidance_interval)
        outs = []
        for i in range(0, len(prompts), batch):
            part = slice(i, i + batch)
            cl = cond_latents[part] if cond_latents is not None else None
            cm = cond_mask[part] if cond_mask is not None else None
            il = init_latents[part] if init_latents is not None else None
            outs.append(self._generate(prompts[part], negative_prompt, seeds[part], steps, guidance, interval, cl,
                                       cm, il, strength, shape, on_step, output))  # fmt: skip
        return torch.cat(outs)

    def _generate(self, prompts, negative, seeds, steps, guidance, interval, cond_latents, cond_mask, init_latents,
                  strength, shape, on_step, output):  # fmt: skip
        b = len(prompts)
        c, f, h, w = shape
        # 1. encode the prompts and the negative prompt (one batch: conditional first)
        text = self.bundle.text([*prompts, *([negative] * b)]).to(self.device)
        # 2. initial noise, one generator per seed: a take does not depend on what else is in the batch
        latents = torch.stack([torch.randn((c, f, h, w), generator=torch.Generator().manual_seed(s)) for s in seeds])
        latents = latents.to(self.device)
        mask = cond_mask.to(self.device) if cond_mask is not None else torch.zeros(b, f, dtype=torch.bool,
                                                                                     device=self.device)  # fmt: skip
        clean = cond_latents.to(self.device) if cond_latents is not None else torch.zeros_like(latents)
        m5 = mask[:, None, :, None, None]
        # 3. timesteps; video-to-video skips the first (1 - strength) of them and noises the clip to match
        scheduler = self.scheduler()
        scheduler.set_timesteps(steps, device=self.device)
        timesteps = scheduler.timesteps
        if init_latents is not None and strength < 1.0:
            start = min(round(steps * (1.0 - strength)), steps - 1)
            timesteps = timesteps[start:]
            scheduler.set_begin_index(start)
            latents = scheduler.scale_noise(init_latents.to(self.device), timesteps[:1], latents)
        conditioned = bool(mask.any())
        lo, hi = interval
        # 4. the denoising loop
        for t in timesteps:
            latents = torch.where(m5, clean, latents)
            if conditioned:
                tt = torch.where(mask, torch.zeros_like(mask, dtype=torch.float32), t.float())  # per frame
            else:  # one timestep per sample: diffusers' own path, the cheapest
                tt = t.float().expand(b)
            sigma = float(t) / scheduler.config.num_train_timesteps
            if guidance != 1.0 and lo < sigma <= hi:
                pred = self.transformer(torch.cat([latents, latents]), torch.cat([tt, tt]), text, return_dict=False)[0]
                cond, uncond = pred.float().chunk(2)
                velocity = uncond + guidance * (cond - uncond)
            else:  # outside the interval the unconditional pass is skipped: those steps cost half
                velocity = self.transformer(latents, tt, text[:b], return_dict=False)[0].float()
            latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
            if on_step:
                on_step()
        latents = torch.where(m5, clean, latents)
        if output == "latent":
            return latents
        # 5. decode
        return decode(self.vae, latents).float().cpu()
