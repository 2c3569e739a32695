"""Evaluate stage: quality metrics a trained video model is judged by, computed without downloaded weights.

Reconstruction (PSNR/SSIM against the mean-clip baseline), catalog fidelity (a title classifier trained on
the catalog's frames, and a Fréchet distance in its feature space) and memorisation (nearest training
frames against held-out ones). Clips are float tensors (N, C, F, H, W) in [-1, 1].
"""

from cinefoundry.evaluate.classifier import (
    FEATURE_DIM,
    TitleClassifier,
    accuracy,
    clip_logits,
    frame_features,
    judge_features,
    judge_predictions,
    judged_accuracy,
    judged_probs,
    logits_of_features,
    train_classifier,
    train_judges,
)
from cinefoundry.evaluate.frechet import bootstrap_fd, frechet_distance
from cinefoundry.evaluate.memorisation import memorisation_report, nearest_frame_distance, thumbnails
from cinefoundry.evaluate.reconstruction import PSNR_CAP_DB, mean_clip_baseline, psnr, psnr_from_mse, ssim

__all__ = [
    "FEATURE_DIM",
    "PSNR_CAP_DB",
    "TitleClassifier",
    "accuracy",
    "bootstrap_fd",
    "clip_logits",
    "frame_features",
    "frechet_distance",
    "judge_features",
    "judge_predictions",
    "judged_accuracy",
    "judged_probs",
    "logits_of_features",
    "mean_clip_baseline",
    "memorisation_report",
    "nearest_frame_distance",
    "psnr",
    "psnr_from_mse",
    "ssim",
    "thumbnails",
    "train_classifier",
    "train_judges",
]
