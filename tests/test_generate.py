"""Generation end to end on a tiny trained model: every mode makes a playable file of the asked size and
length, outputs are marked, signed and recorded, `provenance verify` reads Trusted / Invalid / the watermark
after a re-encode, and the likeness guard refuses Tears of Steel's performers and their on-screen characters.

The model is the `tiny` recipe trained for a few steps on synthetic titles, so its pictures are noise-like:
these tests check the mechanics (geometry, conditioning, provenance, rights), not the look.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cinefoundry.cli import app
from cinefoundry.core.errors import InputError, RefusedError
from cinefoundry.generate.conditions import keyframe_condition, load_image, model_geometry
from cinefoundry.generate.export import write_mp4
from cinefoundry.generate.pipeline import StudioPipeline
from cinefoundry.generate.render import RenderInputs, RenderSettings, TakeRenderer, join_seams
from cinefoundry.generate.request import GenerateRequest
from cinefoundry.generate.run import generate
from cinefoundry.models.bundle import load_bundle
from cinefoundry.models.recipes import get_recipe
from cinefoundry.provenance.frames import read_frames
from cinefoundry.provenance.models import LikenessCheck
from cinefoundry.provenance.records import find_record
from cinefoundry.provenance.verify import verify
from cinefoundry.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def studio(tiny_studio: Workspace) -> Workspace:
    return tiny_studio


def decode(path: Path) -> np.ndarray:
    return read_frames(path)


def test_text_to_video_makes_a_playable_marked_signed_recorded_file(studio: Workspace) -> None:
    doc = generate(studio, GenerateRequest("a rabbit in a meadow at dawn", "gm", seed=3, steps=4))
    (take,) = doc["takes"]
    path = studio.home / take["outputs"][0]["path"]
    frames = decode(path)
    assert frames.shape == (17, 64, 64, 3)
    with studio.session() as s:
        record = find_record(s, take["record"])
        assert record.model.label == "gm@v1" and record.dataset_version == "gd@v1"
        assert record.seed == 3 and record.params["steps"] == 4 and record.outputs[0]["sha256"]
        # no --guidance: the model's own scale (its recipe's), recorded as used
        assert record.params["guidance"] == get_recipe("tiny").guidance == 5.0
        assert "Alpha (c) test studio, CC BY 4.0" in record.attributions
    report = verify(studio, path)
    assert report["manifest"]["state"] == "Trusted", report["manifest"]
    assert report["watermark"]["id"] == take["watermark_id"]
    assert report["record"]["id"] == take["record"] and report["consistent"] is True


def test_a_flipped_byte_is_invalid_and_a_reencode_still_resolves_through_the_watermark(
    studio: Workspace, tmp_path: Path
) -> None:
    doc = generate(studio, GenerateRequest("a city street at night", "gm", seed=5, steps=4))
    path = studio.home / doc["takes"][0]["outputs"][0]["path"]
    data = bytearray(path.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 64] ^= 0x01
    flipped = tmp_path / "flipped.mp4"
    flipped.write_bytes(bytes(data))
    assert verify(studio, flipped)["manifest"]["state"] == "Invalid"
    reencoded = write_mp4(tmp_path / "reencoded.mp4", decode(path), fps=8, crf=23)
    report = verify(studio, reencoded)
    assert report["manifest"]["state"] == "Missing"
    assert report["record"]["id"] == doc["takes"][0]["record"]


def test_takes_are_seeded_and_the_same_inputs_give_the_same_frames(studio: Workspace) -> None:
    bundle = load_bundle(studio.home / "models" / "gm@v1")
    geom = model_geometry(bundle)
    renderer = TakeRenderer(StudioPipeline(bundle), geom)
    settings = RenderSettings("waves on a beach", "", [11, 12], 3, 4.0, geom.frames)
    first, again = renderer.render(settings, RenderInputs()), renderer.render(settings, RenderInputs())
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])
    doc = generate(studio, GenerateRequest("waves on a beach", "gm", seed=11, takes=2, steps=3))
    assert [t["seed"] for t in doc["takes"]] == [11, 12]


def test_image_to_video_and_keyframes_pin_the_given_frames(studio: Workspace, tmp_path: Path) -> None:
    import cv2

    image = np.zeros((90, 160, 3), np.uint8)
    image[:, :80] = (255, 200, 40)
    cv2.imwrite(str(tmp_path / "first.png"), image)
    cv2.imwrite(str(tmp_path / "last.png"), 255 - image)
    # the latents the pipeline ends with hold the keyframes' latents exactly where they were asked
    bundle = load_bundle(studio.home / "models" / "gm@v1")
    geom = model_geometry(bundle)
    keys = [(0.0, load_image(tmp_path / "first.png", 64, 64)), (2.0, load_image(tmp_path / "last.png", 64, 64))]
    cond, mask = keyframe_condition(bundle, geom, keys)
    assert mask.tolist() == [True] + [False] * (geom.latent[1] - 2) + [True]
    latents = StudioPipeline(bundle)(["a sunrise"], steps=3, cond_latents=cond[None], cond_mask=mask[None],
                                     output="latent")  # fmt: skip
    assert torch.equal(latents[0][:, mask], cond[:, mask])
    assert not torch.equal(latents[0][:, 1], cond[:, 1])
    # and through the command: playable files of the model's size and length
    ends = [(0.0, tmp_path / "first.png"), (-1.0, tmp_path / "last.png")]
    for request in (GenerateRequest("a sunrise", "gm", image=tmp_path / "first.png", steps=3),
                    GenerateRequest("a sunrise", "gm", keyframes=ends, steps=3)):  # fmt: skip
        doc = generate(studio, request)
        assert decode(studio.home / doc["takes"][0]["outputs"][0]["path"]).shape == (17, 64, 64, 3)
        with studio.session() as s:
            inputs = find_record(s, doc["takes"][0]["record"]).inputs
        assert all(len(v["sha256"]) == 64 for v in inputs.values()) and inputs


def test_guidance_runs_the_unconditional_pass_only_inside_its_interval(studio: Workspace) -> None:
    bundle = load_bundle(studio.home / "models" / "gm@v1")
    pipe = StudioPipeline(bundle)
    passes: list[int] = []  # the batch of every transformer call: 2 = guided (cond + uncond), 1 = cond alone
    hook = pipe.transformer.register_forward_hook(lambda m, args, out: passes.append(len(args[0])))
    try:
        sched = pipe.scheduler()
        sched.set_timesteps(8)
        sigmas = (sched.timesteps / sched.config.num_train_timesteps).tolist()
        full = pipe(["a sunrise"], steps=8, guidance=5.0, guidance_interval=(0.0, 1.0), output="latent")
        assert passes == [2] * 8
        passes.clear()
        mid = pipe(["a sunrise"], steps=8, guidance=5.0, guidance_interval=(0.3, 0.8), output="latent")
        assert passes == [2 if 0.3 < s <= 0.8 else 1 for s in sigmas] and 1 in passes and 2 in passes
        passes.clear()
        # an interval no step falls in (the last step's sigma is 0.001) is sampling without guidance, exactly
        none = pipe(["a sunrise"], steps=8, guidance=5.0, guidance_interval=(0.0, min(sigmas) / 2), output="latent")
        assert passes == [1] * 8
        plain = pipe(["a sunrise"], steps=8, guidance=1.0, output="latent")
    finally:
        hook.remove()
    assert torch.equal(none, plain)
    assert (full - mid).abs().max() > 1e-2 and (mid - plain).abs().max() > 1e-2


def test_extend_and_long_shots_chain_windows_without_visible_seams(studio: Workspace, tmp_path: Path) -> None:
    base = generate(studio, GenerateRequest("a forest", "gm", seed=2, steps=3))
    clip = studio.home / base["takes"][0]["outputs"][0]["path"]
    doc = generate(studio, GenerateRequest("a forest", "gm", extend=clip, frames=24, steps=3))
    assert decode(studio.home / doc["takes"][0]["outputs"][0]["path"]).shape[0] == 17 + 24
    long = generate(studio, GenerateRequest("a forest", "gm", frames=41, steps=3))
    frames = decode(studio.home / long["takes"][0]["outputs"][0]["path"])
    assert frames.shape[0] == 41
    assert join_seams(frames, window=17, overlap=5) < 3.0


def test_video_to_video_keeps_more_of_the_clip_at_low_strength(studio: Workspace, tmp_path: Path) -> None:
    base = generate(studio, GenerateRequest("a harbour", "gm", seed=4, steps=3))
    clip = studio.home / base["takes"][0]["outputs"][0]["path"]
    original = decode(clip).astype(np.float32)

    def change(strength: float) -> float:
        doc = generate(studio, GenerateRequest("a harbour in snow", "gm", video=clip, strength=strength, steps=6))
        return float(np.abs(decode(studio.home / doc["takes"][0]["outputs"][0]["path"]) - original).mean())

    assert change(0.2) < change(1.0)


def test_preview_then_final_keeps_the_seed_and_links_the_records(studio: Workspace) -> None:
    preview = generate(studio, GenerateRequest("a lighthouse", "gm", seed=9, preview=True))
    take = preview["takes"][0]
    assert preview["steps"] == 8 and take["size"] == [48, 48]  # the model's smaller bucket, fewer steps
    final = generate(studio, GenerateRequest("", "", final=take["record"], guidance=3.0))
    assert final["final_of"] == take["record"] and final["takes"][0]["seed"] == 9
    assert final["takes"][0]["size"] == [64, 64] and final["steps"] == 30
    with studio.session() as s:
        record = find_record(s, final["takes"][0]["record"])
        # the final keeps the preview's settings, its guidance scale included
        assert record.parent_id == take["record"] and record.params["guidance"] == 5.0


@pytest.mark.parametrize("fmt", ["png", "exr", "prores"])
def test_an_element_carries_a_real_alpha_channel(studio: Workspace, fmt: str) -> None:
    doc = generate(studio, GenerateRequest("an explosion", "gm", element=True, fmt=fmt, steps=3))
    outputs = doc["takes"][0]["outputs"]
    assert {o["format"] for o in outputs} == {fmt, "mp4"}  # the delivery and its viewing copy
    delivery = [studio.home / o["path"] for o in outputs if o["format"] == fmt]
    if fmt == "prores":
        with av.open(str(delivery[0])) as c:
            frame = next(c.decode(video=0))
            assert "a" in frame.format.name  # yuva444p...
            alpha = frame.to_ndarray(format="rgba")[..., 3]
    elif fmt == "png":
        from PIL import Image

        assert len(delivery) == 17
        alpha = np.asarray(Image.open(delivery[0]))[..., 3]
    else:
        import OpenEXR

        assert len(delivery) == 17
        with OpenEXR.File(str(delivery[0]), separate_channels=True) as f:
            alpha = f.channels()["A"].pixels
    # a real alpha plane of the output size; what it holds is the model's picture keyed (tests/test_export.py
    # checks the keying itself, the demo checks flames on black from the demo model)
    assert alpha.shape == (64, 64) and float(alpha.max()) <= (1.0 if fmt == "exr" else 255)


def test_a_looped_plate_ends_where_it_starts(studio: Workspace) -> None:
    doc = generate(studio, GenerateRequest("a desert road", "gm", plate=True, loop=True, steps=4))
    take = doc["takes"][0]
    assert take["frames"] == 16 and take["loop_seam"] < 3.0
    with studio.session() as s:
        assert "static camera" in find_record(s, take["record"]).params["model_prompt"]


def test_the_guard_refuses_performers_and_their_on_screen_characters(studio: Workspace) -> None:
    for prompt, who in [("Denise Rebergen walks through a ruined city", "Denise Rebergen"),
                        ("Celia runs across the bridge", "Denise Rebergen"),
                        ("a close-up of Vanja Rukavina", "Vanja Rukavina")]:  # fmt: skip
        with pytest.raises(RefusedError) as refused:
            generate(studio, GenerateRequest(prompt, "gm", steps=2))
        assert who in str(refused.value) and "consent" in str(refused.value)
    with studio.session() as s:
        logged = s.query(LikenessCheck).filter(LikenessCheck.allowed.is_(False)).count()
    assert logged >= 3
    ok = generate(studio, GenerateRequest("Sintel searches for her dragon in the snow", "gm", steps=2))
    assert "record" in ok["takes"][0]


def test_sizes_and_lengths_within_the_models_buckets(studio: Workspace) -> None:
    wide = generate(studio, GenerateRequest("a wide valley", "gm", size=(64, 32), frames=9, steps=2))
    assert decode(studio.home / wide["takes"][0]["outputs"][0]["path"]).shape == (9, 32, 64, 3)
    with studio.session() as s:
        assert find_record(s, wide["takes"][0]["record"]).params["size"] == [64, 32]


def test_bad_inputs_name_the_file_and_the_problem(studio: Workspace, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(InputError, match=r"broken\.png"):
        generate(studio, GenerateRequest("a sunrise", "gm", image=broken, steps=2))
    with pytest.raises(ValueError, match="buckets"):
        generate(studio, GenerateRequest("a sunrise", "gm", size=(640, 360), steps=2))
    with pytest.raises(ValueError, match="one of"):
        GenerateRequest("a sunrise", "gm", fmt="avi")


def test_the_cli_generates_and_verifies_with_json(studio: Workspace) -> None:
    home = str(studio.home)
    result = runner.invoke(app, ["generate", "a quiet harbour", "--model", "gm", "--steps", "2", "--takes", "2",
                                 "--home", home, "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    path = studio.home / doc["takes"][1]["outputs"][0]["path"]
    checked = runner.invoke(app, ["provenance", "verify", str(path), "--home", home, "--json"])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["manifest"]["state"] == "Trusted"
    refused = runner.invoke(app, ["generate", "Denise Rebergen smiles", "--model", "gm", "--home", home, "--json"])
    assert refused.exit_code == 1 and "Denise Rebergen" in json.loads(refused.stdout)["error"]
