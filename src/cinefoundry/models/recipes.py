"""Recipes: typed configs that fix a model's geometry and how it is trained, from unit-test size to Wan 2.1.

`tiny` runs in seconds (tests), `demo` is the CPU demo on the samples, `wan-1.3b` is Wan 2.1 T2V 1.3B's
geometry (load real weights with --init-from), `studio-s|m|l` are from-scratch sizes for GPU clusters.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from cinefoundry.core.errors import InputError
from cinefoundry.models.denoiser import DenoiserConfig
from cinefoundry.models.text import TextEncoderConfig
from cinefoundry.models.vae import VAEConfig

PRECISIONS = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of both stages (VAE, then denoiser)."""

    vae_steps: int = 600
    vae_batch: int = 8
    vae_lr: float = 2e-3
    vae_kl_weight: float = 1e-6
    vae_seconds: float | None = None  # a time budget: stop the VAE stage early when spent
    vae_min_steps: int = 0  # but train at least this many steps (a slow machine's VAE is otherwise starved)
    vae_noise: float = 0.0  # posterior noise while training (0: the mean; noise early on slows a small VAE)
    vae_frames: int | None = None  # train the VAE on crops this long (None: whole windows)
    vae_crop: int | None = None  # and this many pixels square (None: whole frames); a multiple of its spatial factor
    vae_gate_db: float | None = 1.0  # held-out PSNR over the mean clip the VAE must reach (None: unchecked)
    steps: int = 2000
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 50
    seconds: float | None = None  # time budget of the denoiser stage
    min_steps: int = 0  # but train the denoiser at least this many steps (a fine-tune on a slow machine is starved)
    # the whole run's time budget: the denoiser gets what the VAE stage and the caches left of it (at most
    # `seconds`), so a machine that encodes slowly, or is slow today, still finishes on time
    budget_seconds: float | None = None
    ema_decay: float = 0.995
    caption_dropout: float = 0.1  # captions replaced by the empty prompt: classifier-free guidance
    # captions cut to the words all of a title's captions share ("A shot from Sintel (2010), ..."): the model
    # must call up a title's look from its name alone, not only from the shot's lighting and colours
    caption_title_only: float = 0.0
    timestep_mean: float = 0.0  # logit-normal timesteps (SD3): sigma = sigmoid(N(mean, std))
    timestep_std: float = 1.0
    shift: float = 1.0  # sigma -> shift*sigma / (1 + (shift-1)*sigma): more noise for bigger latents
    # conditioning: probability of giving clean latent frames (first / last / both / random / prefix)
    cond_first: float = 0.15
    cond_last: float = 0.05
    cond_both: float = 0.05
    cond_random: float = 0.05
    cond_prefix: float = 0.05
    # per block (train/kernels.py): true or "selective" keeps attention's outputs and recomputes the rest; "full"
    # recomputes whole blocks (diffusers' own), the least memory, for sizes where the selective one does not fit
    gradient_checkpointing: bool | str = False
    compile: bool = True  # torch.compile the denoiser's blocks on GPUs (ignored on CPUs)
    # the denoiser's attention kernel, a diffusers backend (train/kernels.py): native (torch's own choice, cuDNN's
    # on Hopper GPUs), or pinned: _native_cudnn, _native_flash, _native_efficient (benchmarks/train_gpu.py compares)
    attention: str = "native"
    precision: str = "auto"  # bf16 autocast on GPUs, fp32 on CPUs (but see vae_cpu_bf16); or "bf16" / "fp32"
    # the VAE stage under bf16 autocast on CPUs with native bf16 (AVX512-BF16, AMX), where its convolutions run
    # 1.2-1.4x faster; the denoiser's small matmuls run slower in bf16 there, so it stays fp32 (RESULTS.md)
    vae_cpu_bf16: bool = False
    title_balance: float = 0.5  # sampling weight of a title ~ (its windows)^(1 - this): 0 natural, 1 equal titles
    # Extra (frames, height, width) buckets besides the dataset's window, made from the same windows (first
    # frames, centre crop to the bucket's aspect, area scaling); `bucket_share` of the steps go to them.
    # share of denoiser samples drawn from the mirrored windows (flipped left to right, 'left' and 'right' swapped
    # in their captions): twice the pictures for the same clips; 0 encodes no mirrored latents at all
    flip: float = 0.0
    buckets: tuple[tuple[int, int, int], ...] = ()
    bucket_share: float = 0.25
    seed: int = 0
    holdout: float = 0.15
    log_every: int = 10
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError("recipe", f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")


@dataclass(frozen=True)
class Recipe:
    """Everything a training run needs besides the data."""

    name: str
    vae: VAEConfig = field(default_factory=VAEConfig)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # the classifier-free guidance scale a model of this recipe samples with unless told otherwise (Wan 2.1: 5)
    guidance: float = 5.0
    # guide only at noise levels lo < sigma <= hi (Kynkaanniemi et al. 2024: guidance at the highest noise levels
    # costs diversity, at the lowest it does little); (0, 1) guides every step
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    # the sampling scheduler's shift (None: the training shift); as Wan's sample_shift, set apart from training's
    sample_shift: float | None = None

    @property
    def sampling_shift(self) -> float:
        """The shift a model of this recipe samples with: its sample_shift, else its training shift."""
        return self.train.shift if self.sample_shift is None else self.sample_shift

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **train: Any) -> Recipe:
        """A copy with some training settings changed (e.g. steps), checked against the known names."""
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = set(train) - known
        if unknown:
            raise InputError("recipe", f"unknown training settings {sorted(unknown)}; known: {sorted(known)}")
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **train))

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Recipe:
        den = dict(doc["denoiser"], patch_size=tuple(doc["denoiser"]["patch_size"]))
        vae = dict(doc["vae"], block_out_channels=tuple(doc["vae"]["block_out_channels"]),
                   downsample=tuple(doc["vae"]["downsample"]))  # fmt: skip
        train = dict(doc["train"], buckets=tuple(tuple(b) for b in doc["train"].get("buckets", ())))
        # models saved before recipes carried a guidance scale were sampled (and evaluated) at 4
        return cls(doc["name"], VAEConfig(**vae), DenoiserConfig(**den), TextEncoderConfig(**doc["text"]),
                   TrainConfig(**train), doc.get("guidance", 4.0), tuple(doc.get("guidance_interval", (0.0, 1.0))),
                   doc.get("sample_shift"))  # fmt: skip


def _wan(name: str, layers: int, heads: int, ffn: int, steps: int, text: str = "umt5") -> Recipe:
    return Recipe(
        name,
        VAEConfig(kind="wan", latent_channels=16),
        DenoiserConfig(
            num_layers=layers,
            num_attention_heads=heads,
            attention_head_dim=128,
            ffn_dim=ffn,
            patch_size=(1, 2, 2),
            freq_dim=256,
            rope_max_seq_len=1024,
        ),
        TextEncoderConfig(kind=text, max_length=512),
        TrainConfig(
            vae_steps=0,
            steps=steps,
            batch=8,
            lr=1e-4,
            warmup=500,
            ema_decay=0.9999,
            shift=5.0,
            gradient_checkpointing=True,
            log_every=50,
            checkpoint_every=1000,
        ),
    )


RECIPES: dict[str, Recipe] = {
    "tiny": Recipe(
        "tiny",
        VAEConfig(latent_channels=4, block_out_channels=(8,), downsample=(True,)),
        DenoiserConfig(num_layers=1, num_attention_heads=2, attention_head_dim=8, ffn_dim=32, freq_dim=16),
        TextEncoderConfig(kind="t5-tiny", max_length=16),
        TrainConfig(
            vae_steps=4,
            vae_batch=2,
            vae_crop=16,  # as the demo's VAE trains on crops: resume and DDP parity cover the crop draws
            vae_gate_db=None,
            steps=6,
            batch=4,
            warmup=2,
            log_every=1,
            checkpoint_every=3,
            ema_decay=0.9,
        ),
    ),
    "demo": Recipe(
        "demo",
        VAEConfig(latent_channels=16, block_out_channels=(32, 64), downsample=(True, False)),
        DenoiserConfig(num_layers=4, num_attention_heads=4, attention_head_dim=32, ffn_dim=512, patch_size=(1, 2, 2)),
        TextEncoderConfig(kind="minilm", max_length=48),
        TrainConfig(
            vae_steps=4000,
            # 32x32 crops, 16 a batch: 23.3 dB held-out in 100 s where whole frames reached 21.4 dB (23.5 in
            # 200 s); the time saved goes to the denoiser (RESULTS.md, 2026-12-03)
            vae_seconds=120,
            # on an fp32-only VM, models whose VAE ran under 1000 whole-frame steps recognised 78-91%, over 1000
            # 93.8-98.4% (RESULTS.md, 2026-12-03); 1100 steps of crops reach about 1300 whole-frame steps' PSNR.
            # A slow machine takes the extra VAE time from the denoiser
            vae_min_steps=1100,
            vae_batch=16,
            vae_frames=5,
            vae_crop=32,
            vae_lr=1e-3,
            vae_cpu_bf16=True,
            steps=20000,
            # 9.5 minutes in all: the denoiser had 320 s fixed, and a slower VM's caches took the run to 10.0 min
            budget_seconds=570,
            seconds=400,
            batch=16,
            # 2e-3 to 8e-3 cut the held-out flow loss by 12-22%, but recognition varied 70-92% and a demo model
            # trained at 3e-3 no longer took the element fine-tune (black explosions): RESULTS.md, 2026-12-02
            lr=1e-3,
            warmup=100,
            # equal titles: with sqrt balancing the 10 s Sintel excerpt and the small trailer were under-learned
            title_balance=1.0,
            # a smaller square bucket for previews and a 2:1 "scope" bucket, cut from the same windows; at 20% of
            # the steps they cost the main bucket's title recognition more than it could spare
            buckets=((17, 48, 48), (17, 32, 64)),
            bucket_share=0.1,
            # storyboards ask for a title's look by its phrase alone, and eval by prompts naming the title
            caption_title_only=0.3,
            # half the samples from the mirrored windows: the held-out / training flow-loss gap 0.076 -> 0.054
            flip=0.5,
            # training noise levels shifted as sampling's, more steps where a title's look is laid down: with flip,
            # recognition 92-94% on three seeds where it was 80-91% (RESULTS.md, 2026-12-03)
            shift=2.0,
            # the numbers above were measured on the final weights: until 2026-12-04 a CPU run's EMA was the live
            # weights (a state-dict alias). A true EMA lifted the two seeds that missed 90% (seed 2: 86.7-88.3% ->
            # 90.6%, seed 3: 89.8% -> 94.5%); nine seeds of ten clear both bars (86.7-98.4%, FD 1.15-1.44). The
            # warm-up (1+s)/(10+s) holds the decay near 0.996 at the 2000-2600 steps run here, so 0.995 and 0.999
            # barely differ (RESULTS.md, 2026-12-04, twelfth session)
            ema_decay=0.999,
        ),
        # with the training shift, guidance 5 recognises as well as 6 (92-95% on three seeds) at the same FD ratio;
        # at 4 one of the three fell to 87.5% (RESULTS.md, 2026-12-03)
        guidance=5.0,
        # more of 30 sampling steps spent at high noise, where a shot's look is laid down: title recognition
        # 75% -> 80% on the same model (RESULTS.md)
        sample_shift=2.0,
    ),
    # Wan 2.1 T2V 1.3B: 30 layers, 12 heads x 128, FFN 8960, UMT5-XXL text, Wan VAE
    "wan-1.3b": _wan("wan-1.3b", 30, 12, 8960, 20000),
    "studio-s": _wan("studio-s", 20, 8, 4096, 100000),
    "studio-m": _wan("studio-m", 30, 12, 8960, 200000),
    "studio-l": _wan("studio-l", 40, 40, 13824, 400000),  # Wan 2.1 14B geometry
}


def get_recipe(name: str) -> Recipe:
    """The named recipe, or a clear error listing the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        raise InputError("recipe", f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None
