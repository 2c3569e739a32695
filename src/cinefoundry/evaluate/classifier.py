"""A small title classifier trained on the catalog's own frames: the feature space for catalog fidelity.

No downloaded weights: a compact 2D CNN is trained from scratch on single frames of the training clips
(with light augmentation), then used to recognise the title of generated clips and to embed frames for a
Fréchet distance (catalog FD). Clips are float tensors (N, C, F, H, W) in [-1, 1].
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cinefoundry.core.progress import SILENT, Reporter

FEATURE_DIM = 128
_EVAL_CHUNK = 512  # frames per forward pass at evaluation time


class TitleClassifier(nn.Module):
    """Four stride-2 conv blocks (32-64-128-128, GroupNorm, ReLU), global average pool, linear head.

    Works on RGB frames (B, 3, H, W) in [-1, 1] of any size >= 32 px. Weights are initialised from `seed`
    with a private generator, so building one does not touch the global RNG.
    """

    def __init__(self, num_classes: int, widths: Sequence[int] = (32, 64, 128, 128), seed: int = 0) -> None:
        super().__init__()
        if widths[-1] != FEATURE_DIM:
            raise ValueError(f"the last width is the feature dimension and must be {FEATURE_DIM}")
        self.num_classes = num_classes
        with torch.device("meta"):  # allocate without the default (global-RNG) initialisation
            blocks: list[nn.Module] = []
            cin = 3
            for cout in widths:
                blocks += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True)]
                cin = cout
            self.body = nn.Sequential(*blocks)
            self.head = nn.Linear(cin, num_classes)
        self.to_empty(device="cpu")
        self._init_weights(torch.Generator().manual_seed(seed))

    def _init_weights(self, g: torch.Generator) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=g)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.GroupNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01, generator=g)
                nn.init.zeros_(m.bias)

    def features(self, frames: Tensor) -> Tensor:
        """Pooled features (B, 128) of frames (B, 3, H, W)."""
        return self.body(frames).mean((2, 3))

    def forward(self, frames: Tensor) -> Tensor:
        """Title logits (B, num_classes) of frames (B, 3, H, W)."""
        return self.head(self.features(frames))


def _frames(videos: Tensor) -> Tensor:
    """(N, C, F, H, W) -> (N*F, C, H, W), clip-major (all frames of clip 0 first)."""
    if videos.ndim != 5:
        raise ValueError(f"expected (N, C, F, H, W) clips, got shape {tuple(videos.shape)}")
    return videos.float().transpose(1, 2).flatten(0, 1)


def _augment(frames: Tensor, g: torch.Generator) -> Tensor:
    """Random horizontal flip, crop-resize (scale 0.8-1) with translation, and brightness jitter; (B, C, H, W)."""
    b = frames.shape[0]
    scale = 0.8 + 0.2 * torch.rand(b, generator=g)
    # the crop's centre may move as far as the crop still fits inside the frame
    shift = (torch.rand(b, 2, generator=g) * 2 - 1) * (1 - scale)[:, None]
    flip = torch.where(torch.rand(b, generator=g) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(frames.shape), align_corners=False)
    out = F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=False)
    brightness = (torch.rand(b, 1, 1, 1, generator=g) * 2 - 1) * 0.15
    out = _soften(out, g)
    return (out + brightness).clamp(-1.0, 1.0)


def _soften(frames: Tensor, g: torch.Generator) -> Tensor:
    """Half the frames lose detail (down to 1/2-1/4 size and back): the classifier must not hinge on fine
    texture, which small generative models render softly while still getting a title's look right."""
    b, _, h, w = frames.shape
    factor = float(2 + 2 * torch.rand(1, generator=g))
    pick = torch.rand(b, generator=g) < 0.5
    if not pick.any():
        return frames
    small = F.interpolate(frames[pick], size=(max(4, round(h / factor)), max(4, round(w / factor))), mode="area")
    out = frames.clone()
    out[pick] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return out


def train_classifier(
    videos: Tensor,
    labels: Tensor | Sequence[int],
    num_classes: int,
    steps: int = 200,
    batch: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    reporter: Reporter | None = None,
) -> TitleClassifier:
    """Train a TitleClassifier on single frames sampled from `videos` (N, C, F, H, W), labelled per clip.

    AdamW with a cosine schedule; frames are drawn class-balanced; every random draw (frames, augmentation,
    init) comes from `seed`.
    A few dozen 64x64x17 clips of 4 titles train in seconds on two CPU cores.
    """
    reporter = reporter or SILENT
    frames = _frames(videos)  # (N*F, C, H, W)
    per_clip = videos.shape[2]
    frame_labels = torch.as_tensor(labels, dtype=torch.long).repeat_interleave(per_clip)  # (N*F,)
    if frame_labels.shape[0] != frames.shape[0]:
        raise ValueError(f"{len(labels)} labels for {videos.shape[0]} clips")
    g = torch.Generator().manual_seed(seed)
    # class-balanced draws: a title with few clips is seen as often as one with many
    counts = torch.bincount(frame_labels, minlength=num_classes).clamp(min=1).float()
    weights = 1.0 / counts[frame_labels]
    model = TitleClassifier(num_classes, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / max(1, steps))))
    model.train()
    reporter.begin("training title classifier", steps)
    try:
        for _ in range(steps):
            idx = torch.multinomial(weights, batch, replacement=True, generator=g)
            loss = F.cross_entropy(model(_augment(frames[idx], g)), frame_labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            reporter.step(f"loss {loss.item():.3f}")
    finally:
        reporter.end()
    return model.eval()


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the block; the model's previous mode is put back afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def frame_features(model: TitleClassifier, videos: Tensor) -> Tensor:
    """Pooled features (N*F, 128) of every frame of `videos` (N, C, F, H, W), clip-major."""
    frames = _frames(videos)
    with _evaluating(model):
        return torch.cat([model.features(chunk) for chunk in frames.split(_EVAL_CHUNK)])


def clip_logits(model: TitleClassifier, videos: Tensor) -> Tensor:
    """Title logits (N, num_classes) of each clip: the mean of its frames' logits."""
    return logits_of_features(model, frame_features(model, videos), len(videos))


def logits_of_features(model: TitleClassifier, features: Tensor, clips: int) -> Tensor:
    """`clip_logits` of `clips` clips from their frames' `frame_features`, without running the conv body again."""
    with _evaluating(model):
        return model.head(features).view(clips, -1, model.num_classes).mean(1)


def train_judges(videos: Tensor, labels: Tensor | Sequence[int], num_classes: int, count: int, steps: int = 200,
                 seed: int = 0, reporter: Reporter | None = None) -> list[TitleClassifier]:  # fmt: skip
    """`count` classifiers of seeds `seed * 1000 + k`, judging together (`judged_probs`).

    One classifier trained from scratch on a few dozen clips is a seed-dependent judge: five seeds recognised
    75% to 98% of the same generated clips (RESULTS.md, 2026-12-03). Their mean probabilities vary far less.
    """
    return [train_classifier(videos, labels, num_classes, steps, seed=seed * 1000 + k, reporter=reporter)
            for k in range(count)]  # fmt: skip


def judged_probs(judges: Sequence[TitleClassifier], videos: Tensor) -> Tensor:
    """(N, num_classes): each clip's title probabilities, averaged over the judges."""
    return _probs_per_judge(judges, videos).mean(0)


def judge_features(judges: Sequence[TitleClassifier], videos: Tensor) -> list[Tensor]:
    """Each judge's `frame_features` of `videos`: one look per judge, for its verdicts and its catalog FD."""
    return [frame_features(j, videos) for j in judges]


def judge_predictions(
    judges: Sequence[TitleClassifier], features: Sequence[Tensor], clips: int
) -> tuple[Tensor, Tensor]:
    """Each of `clips` clips' title by the judges together (N,), as `judged_probs` picks it, and by each judge alone
    (J, N), as `accuracy` does, from the judges' `judge_features` of the clips."""
    probs = torch.stack([logits_of_features(j, f, clips).softmax(1) for j, f in zip(judges, features, strict=True)])
    return probs.mean(0).argmax(1), probs.argmax(2)


def _probs_per_judge(judges: Sequence[TitleClassifier], videos: Tensor) -> Tensor:
    return torch.stack([clip_logits(j, videos).softmax(1) for j in judges])


def judged_accuracy(judges: Sequence[TitleClassifier], videos: Tensor, labels: Tensor | Sequence[int]) -> float:
    """Fraction of clips whose title by the judges' mean probabilities equals the label."""
    pred = judged_probs(judges, videos).argmax(1)
    return float((pred == torch.as_tensor(labels, dtype=torch.long)).float().mean())


def accuracy(model: TitleClassifier, videos: Tensor, labels: Tensor | Sequence[int]) -> float:
    """Fraction of clips whose clip-level prediction (argmax of mean frame logits) equals the label."""
    pred = clip_logits(model, videos).argmax(1)
    return float((pred == torch.as_tensor(labels, dtype=torch.long)).float().mean())
