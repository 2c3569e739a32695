"""The vision-language captioner, with a tiny real BLIP model built here (random weights, nothing fetched).

Its output layer is biased towards one word, so the whole path (middle frame, processor, model, decoding,
a new caption column, a dataset built on that column) must carry exactly that word through.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor
from typer.testing import CliRunner

from cinefoundry.cli import app
from cinefoundry.testing.film import make_shots

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "shot", "of", "the", "sky", "film",
         "describe", "this", "in", "one", "sentence", "."]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "tiny-blip"
    folder.mkdir()
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(WORDS)}, bos_token="[DEC]")
    BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer
    ).save_pretrained(folder)
    text = dict(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=64, bos_token_id=5, pad_token_id=0, sep_token_id=3, eos_token_id=3,
                max_position_embeddings=128)  # fmt: skip
    vision = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, image_size=32,
                  patch_size=16)  # fmt: skip
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision, projection_dim=32))
    with torch.no_grad():
        model.text_decoder.cls.predictions.bias[WORDS.index("sky")] = 50.0  # it always says "sky"
    model.save_pretrained(folder)
    return folder


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_local_vlm_adds_a_caption_column_that_datasets_can_train_on(tiny_vlm: Path, tmp_path: Path):
    make_shots(tmp_path / "one.mp4", [40, 60], size=(160, 90), seed=21)
    (tmp_path / "m.csv").write_text("title,kind,media,licence\nOne,short,one.mp4,CC-BY-4.0\n")
    home = str(tmp_path / "studio")
    run("init", "--home", home)
    run("catalog", "import", str(tmp_path / "m.csv"), "--home", home)
    run("ingest", "--home", home, "--workers", "1")
    added = run("clips", "caption", "--model-dir", str(tiny_vlm), "--home", home)
    assert added["column"] == "caption_vlm_tiny_blip" and added["clips"] == 2
    clips = run("clips", "list", "--home", home)
    # 60 new tokens, all "sky": none lost to stripping the echoed prompt
    assert all(c["caption_vlm_tiny_blip"] == " ".join(["sky"] * 60) for c in clips)
    assert all(c["caption_structured_v1"].startswith("A shot from One") for c in clips), "the first column stays"
    built = run("dataset", "build", "vlm", "--frames", "9", "--caption", "caption_vlm_tiny_blip", "--home", home)
    assert built["version"]["settings"]["caption"] == "caption_vlm_tiny_blip"
