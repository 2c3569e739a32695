"""Architecture only: the video VAE, the Wan denoiser and the text encoders, built from typed configs."""

from diffusers.utils import logging as _diffusers_logging
from transformers.utils import logging as _transformers_logging

# Our own rich progress bars report long work; the libraries' per-file tqdm bars would interleave with them.
_diffusers_logging.disable_progress_bar()
_transformers_logging.disable_progress_bar()
