"""What a filmmaker asks for: `GenerateRequest`, and the mode it amounts to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("mp4", "png", "exr", "prores")
PREVIEW_STEPS, FINAL_STEPS = 8, 30
# Words that steer the model toward an isolated element or an empty, locked-off plate; the structured
# captions the model was trained on describe camera moves and lighting in these terms.
# An element is asked for in the words of the training captions (lighting, camera, motion, colours), which the
# model has learned; "isolated on a black background" never appears in a film's captions.
ELEMENT_PROMPT = "Dark, night or low light, static camera, fast movement. Colours: black, orange, yellow"
ELEMENT_NEGATIVE = "background, scenery, landscape, people, characters, text"
PLATE_PROMPT = "static camera, an empty scene with no people and no characters in frame"
PLATE_NEGATIVE = "people, characters, faces, camera moving, panning, text"


@dataclass
class GenerateRequest:
    """One `cinefoundry generate` call: a prompt, a model, the inputs of its mode and the sampling settings."""

    prompt: str
    model: str
    negative: str = ""
    seed: int = 0
    takes: int = 1
    steps: int | None = None  # default: FINAL_STEPS, or PREVIEW_STEPS with preview
    guidance: float | None = None  # default: the model's (its recipe's)
    size: tuple[int, int] | None = None  # (width, height)
    frames: int | None = None
    image: Path | None = None
    keyframes: list[tuple[float, Path]] = field(default_factory=list)
    extend: Path | None = None
    video: Path | None = None
    strength: float = 0.6
    preview: bool = False
    final: str | None = None  # the generation record id of the preview take to finish
    element: bool = False
    plate: bool = False
    loop: bool = False
    fmt: str = "mp4"
    out: Path | None = None
    still: bool = False  # also deliver the middle frame as a signed PNG (storyboard panels)
    file_prefix: str = ""  # names files "<prefix>_<record id>"; default "takeNN" by take

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"--format {self.fmt!r}: one of {', '.join(FORMATS)}")
        if self.takes < 1:
            raise ValueError("--takes must be at least 1")
        if self.element and self.plate:
            raise ValueError("--element and --plate are different kinds of output: choose one")
        if self.loop and not self.plate:
            raise ValueError("--loop makes a loopable background plate: use it with --plate")
        if self.preview and self.final:
            raise ValueError("--preview and --final exclude each other: preview first, then --final TAKE")
        sources = [n for n, v in (("--image", self.image), ("--keyframe", self.keyframes), ("--extend", self.extend),
                                  ("--video", self.video)) if v]  # fmt: skip
        if len(sources) > 1 and not (sources == ["--image", "--keyframe"]):
            raise ValueError(f"{' and '.join(sources)} are different modes: give one")
        if self.video is not None and not 0.0 < self.strength <= 1.0:
            raise ValueError(f"--strength must be in (0, 1], not {self.strength}")
        if self.steps is not None and self.steps < 1:
            raise ValueError("--steps must be at least 1")
        if not self.prompt.strip() and not self.final:
            raise ValueError("a prompt is required (it may be empty only with --final, which reuses the preview's)")

    @property
    def mode(self) -> str:
        """text-to-video, image-to-video, keyframes, extend or video-to-video."""
        if self.video:
            return "video-to-video"
        if self.extend:
            return "extend"
        if self.keyframes:
            return "keyframes"
        if self.image:
            return "image-to-video"
        return "text-to-video"

    @property
    def kind(self) -> str:
        return "element" if self.element else "plate" if self.plate else "shot"

    @property
    def sampling_steps(self) -> int:
        return self.steps or (PREVIEW_STEPS if self.preview else FINAL_STEPS)

    def model_prompt(self) -> tuple[str, str]:
        """The prompt and negative prompt the model gets: the user's, plus the words of an element or a plate."""
        extra, negative = {"element": (ELEMENT_PROMPT, ELEMENT_NEGATIVE),
                           "plate": (PLATE_PROMPT, PLATE_NEGATIVE)}.get(self.kind, ("", ""))  # fmt: skip
        prompt = f"{self.prompt.strip().rstrip('.')}, {extra}" if extra else self.prompt.strip()
        neg = ", ".join(x for x in (self.negative.strip(), negative) if x)
        return prompt, neg

    def input_files(self) -> list[tuple[str, Path]]:
        """Every file the request reads, by role: image, keyframe_<t>s, extend, video."""
        files = [("image", self.image)] if self.image else []
        files += [(f"keyframe_{t:g}s", p) for t, p in self.keyframes]
        return files + [(role, p) for role, p in (("extend", self.extend), ("video", self.video)) if p]

    def params(self) -> dict[str, Any]:
        """Every setting, for the generation record (paths as strings)."""
        doc = asdict(self)
        doc["keyframes"] = [[t, str(p)] for t, p in self.keyframes]
        for key in ("image", "extend", "video", "out"):
            doc[key] = str(doc[key]) if doc[key] else None
        doc.update(mode=self.mode, kind=self.kind, steps=self.sampling_steps)
        return doc
