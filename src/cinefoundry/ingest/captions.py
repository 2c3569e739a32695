"""Captions for training clips: structured captions from what is known, and a vision-language captioner.

The structured captioner needs nothing but the catalog and the clip's measured attributes. A studio with a
GPU can add captions from a vision-language model it keeps in a local folder (`LocalVLMCaptioner`); each
captioner writes its own caption column, so adding one never overwrites another.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class TitleFacts:
    """What the catalog knows about the title a clip comes from."""

    name: str
    year: int | None
    kind: str
    live_action: bool | None


@dataclass
class ClipContext:
    """Everything a captioner may use about one clip."""

    title: TitleFacts
    scores: dict
    start_s: float
    end_s: float
    dialogue: list[str] = field(default_factory=list)
    span: str | None = None
    frame: np.ndarray | None = None  # middle frame, BGR, for captioners that look at pictures


class Captioner(Protocol):
    """Writes one caption per clip; `name` becomes the caption column (caption_<name>)."""

    name: str

    def caption(self, clip: ClipContext) -> str: ...


class StructuredCaptioner:
    """Captions from the title, lighting, camera move, motion, colours and overlapping dialogue."""

    name = "structured-v1"

    def caption(self, clip: ClipContext) -> str:
        s = clip.scores
        parts = [title_phrase(clip.title)]
        if clip.span == "credits" or s["text"] >= 0.06:
            parts.append("Text on screen: credits.")
        elif s["title_card"]:
            parts.append("A title card: text on a dark background.")
        parts.append(f"{_lighting(s['brightness'])}, {_camera(s['camera_move'], s['camera_direction'])}, "
                     f"{_motion(s['motion'])}.")  # fmt: skip
        names = [_colour_name(c["hex"]) for c in s["dominant_colours"] if c["share"] >= 0.15]
        if names:
            parts.append(f"Colours: {', '.join(dict.fromkeys(names))}.")
        if clip.dialogue:
            parts.append("Dialogue: " + " ".join(f'"{line}"' for line in clip.dialogue) + ".")
        return " ".join(parts)


def title_phrase(t: TitleFacts) -> str:
    """'A shot from Sintel (2010), an animated short film.': how every structured caption starts, and so the
    words that call up a title's look (storyboards use it as the house style)."""
    year = f" ({t.year})" if t.year else ""
    if t.kind == "element":  # effects shot on black for compositing: neither live action nor animation
        return f"A shot from {t.name}{year}, an effect element on black."
    kind = {"feature": "film", "short": "short film", "episode": "episode", "trailer": "trailer"}[t.kind]
    style = "live-action" if t.live_action else ("animated" if t.live_action is False else "")
    return f"A shot from {t.name}{year}, {_article(style or kind)} {style + ' ' if style else ''}{kind}."


class LocalVLMCaptioner:
    """A vision-language model from a local folder (transformers format), captioning the middle frame.

    Nothing is downloaded: the folder must hold the model and its processor. Meant for GPUs; works on CPU.
    """

    def __init__(self, model_dir: str, prompt: str = "Describe this film shot in one sentence.", device: str = ""):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.name = f"vlm-{model_dir.rstrip('/').rsplit('/', 1)[-1]}"
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModelForImageTextToText.from_pretrained(model_dir, local_files_only=True).to(self.device)
        self.prompt = prompt

    def caption(self, clip: ClipContext) -> str:
        import torch
        from PIL import Image

        if clip.frame is None:
            raise ValueError("the vision-language captioner needs the clip's middle frame")
        image = Image.fromarray(clip.frame[:, :, ::-1])
        inputs = self.processor(images=image, text=self.prompt, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=60, do_sample=False)
        text = self.processor.batch_decode(out, skip_special_tokens=True)[0].strip()
        # Models echo the prompt differently (whole, or less its first or last token): strip it as text.
        prompt = self.processor.batch_decode(inputs["input_ids"], skip_special_tokens=True)[0].strip()
        return text[len(prompt) :].strip() if prompt and text.startswith(prompt) else text


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _lighting(brightness: float) -> str:
    if brightness > 0.55:
        return "Bright daylight"
    if brightness > 0.33:
        return "Daylight"
    if brightness > 0.15:
        return "Dim light"
    return "Dark, night or low light"


def _camera(move: str, direction: str) -> str:
    return {
        "static": "static camera",
        "pan": f"the camera pans {direction}",
        "tilt": f"the camera tilts {direction}",
        "zoom": f"the camera zooms {direction}",
        "handheld": "handheld camera",
        "moving": "steady camera on moving subjects",
    }[move]


def _motion(motion: float) -> str:
    if motion < 0.02:
        return "almost no movement"
    if motion < 0.1:
        return "gentle movement"
    if motion < 0.3:
        return "moderate movement"
    return "fast movement"


def _colour_name(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, light, sat = colorsys.rgb_to_hls(r, g, b)
    if light < 0.12:
        return "black"
    if light > 0.9:
        return "white"
    if sat < 0.15:
        return "grey"
    hue = h * 360
    if light < 0.35 and 15 <= hue < 50:
        return "brown"
    for limit, name in ((15, "red"), (45, "orange"), (70, "yellow"), (160, "green"), (200, "teal"), (255, "blue"),
                        (290, "purple"), (340, "pink"), (361, "red")):  # fmt: skip
        if hue < limit:
            return name
    return "red"
