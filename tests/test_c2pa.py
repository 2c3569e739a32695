"""C2PA: sign real MP4/PNG/JPEG/MOV/EXR files with a fresh test PKI and verify them (no mocks).

Trusted with the anchor, Valid without, Invalid after one flipped media byte, Missing after a remux; an
HSM-style callback signer; the generation assertion round-trips; workspaces get a PKI.
"""

from __future__ import annotations

import stat
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from cryptography import x509
from PIL import Image

from cinefoundry.core.settings import WorkspaceSettings
from cinefoundry.generate.export import write_mp4
from cinefoundry.provenance.manifest import (
    ACTIONS_LABEL,
    GENERATION_LABEL,
    TRAINED_ALGORITHMIC_MEDIA,
    TRAINING_MINING_LABEL,
    ManifestSpec,
    callback_signer,
    embeds,
    sidecar_path,
    sign_file,
    verify_file,
)
from cinefoundry.provenance.pki import (
    DOCUMENT_SIGNING,
    PkiPaths,
    ProvenanceError,
    SignerConfig,
    ecdsa_raw_signer,
    make_test_pki,
    signer_config,
)
from cinefoundry.workspace import Workspace

ATTRIBUTIONS = [
    "'Night Train' (1961) by Acme Pictures, CC BY 4.0",
    "'Harbour Lights' (1958) by Acme Pictures, CC BY 4.0",
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    return make_test_pki(tmp_path_factory.mktemp("pki"), "Acme Pictures")


@pytest.fixture(scope="module")
def config(pki: PkiPaths) -> SignerConfig:
    return SignerConfig(chain=pki.chain, key=pki.key, trust_anchors=pki.root)


@pytest.fixture(scope="module")
def anchor(pki: PkiPaths) -> str:
    return pki.root.read_text()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Unsigned MP4 (H.264), PNG and JPEG, made the way the generator writes them."""
    folder = tmp_path_factory.mktemp("media")
    frames = np.random.default_rng(0).integers(0, 256, (9, 48, 64, 3), dtype=np.uint8)
    out = {"mp4": write_mp4(folder / "clip.mp4", frames, fps=8)}
    for kind in ("png", "jpg"):
        out[kind] = folder / f"still.{kind}"
        Image.fromarray(frames[0]).save(out[kind])
    return out


def spec(**changes: object) -> ManifestSpec:
    values: dict[str, object] = {
        "model_id": "demo@v1",
        "record_id": "gen_0123456789abcdef",
        "watermark_id": "0123456789abcdef",
        "prompt_sha256": "ab" * 32,
        "licence": "Acme Pictures studio-internal",
        "attributions": ATTRIBUTIONS,
    }
    return ManifestSpec(**(values | changes))  # type: ignore[arg-type]


def test_test_pki_is_a_documentsigning_chain_with_private_key(pki: PkiPaths) -> None:
    signer, intermediate = x509.load_pem_x509_certificates(pki.chain.read_bytes())
    root = x509.load_pem_x509_certificate(pki.root.read_bytes())
    assert signer.issuer == intermediate.subject and intermediate.issuer == root.subject
    assert signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [DOCUMENT_SIGNING]
    )
    ski = intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = signer.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert 700 <= (signer.not_valid_after_utc - signer.not_valid_before_utc).days <= 731
    assert stat.S_IMODE(pki.key.stat().st_mode) == 0o600


def test_test_pki_is_never_overwritten(pki: PkiPaths, tmp_path: Path) -> None:
    before = pki.chain.read_bytes()
    assert make_test_pki(pki.root.parent, "Someone Else") == pki
    assert pki.chain.read_bytes() == before
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "root.pem").write_bytes(pki.root.read_bytes())
    with pytest.raises(ProvenanceError, match="part of a PKI"):
        make_test_pki(partial, "Acme")


@pytest.mark.parametrize("kind", ["mp4", "png"])
def test_signed_output_is_trusted_with_the_anchor_and_valid_without(
    kind: str, media: dict[str, Path], config: SignerConfig, anchor: str, tmp_path: Path
) -> None:
    signed = sign_file(media[kind], tmp_path / f"signed.{kind}", spec(), config)
    trusted = verify_file(signed, anchor)
    assert trusted.state == "Trusted", trusted.codes
    assert trusted.codes == [] and trusted.sidecar is None
    assert trusted.signer_common_name == "Acme Pictures cinefoundry signer"
    assert trusted.manifest_label and trusted.manifest_label.startswith("urn:c2pa:")
    untrusted = verify_file(signed, None)
    assert untrusted.state == "Valid"
    assert untrusted.codes == ["signingCredential.untrusted"]


def test_manifest_carries_the_generation_record_and_ai_disclosure(
    media: dict[str, Path], config: SignerConfig, anchor: str, tmp_path: Path
) -> None:
    terms = {"commercial": False, "territory": ["FR"], "quota": 100}
    report = verify_file(sign_file(media["mp4"], tmp_path / "out.mp4", spec(terms=terms), config), anchor)
    assert (report.record_id, report.watermark_id, report.model_id) == (
        "gen_0123456789abcdef",
        "0123456789abcdef",
        "demo@v1",
    )
    assert report.attributions == ATTRIBUTIONS
    assert report.generation["terms"] == terms and report.generation["prompt_sha256"] == "ab" * 32
    (created,) = report.assertions[ACTIONS_LABEL]["actions"]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"]["name"] == "demo@v1"
    entries = report.assertions[TRAINING_MINING_LABEL]["entries"]
    assert entries["cawg.ai_generative_training"] == {"use": "notAllowed"}
    assert {e["use"] for e in entries.values()} == {"notAllowed"}
    assert report.as_dict()["generation"] == report.assertions[GENERATION_LABEL]


def test_one_flipped_media_byte_is_invalid(
    media: dict[str, Path], config: SignerConfig, anchor: str, tmp_path: Path
) -> None:
    mp4 = sign_file(media["mp4"], tmp_path / "a.mp4", spec(), config)
    start, end = _box(mp4.read_bytes(), b"mdat")
    _flip(mp4, (start + end) // 2)
    broken = verify_file(mp4, anchor)
    assert broken.state == "Invalid" and "assertion.bmffHash.mismatch" in broken.codes

    png = sign_file(media["png"], tmp_path / "a.png", spec(), config)
    start, end = _png_chunk(png.read_bytes(), b"IDAT")
    _flip(png, (start + end) // 2)
    broken = verify_file(png, anchor)
    assert broken.state == "Invalid" and "assertion.dataHash.mismatch" in broken.codes


def test_remux_and_reencode_strip_the_manifest(
    media: dict[str, Path], config: SignerConfig, anchor: str, tmp_path: Path
) -> None:
    signed = sign_file(media["mp4"], tmp_path / "signed.mp4", spec(), config)
    remuxed = tmp_path / "remuxed.mp4"
    with av.open(str(signed)) as src, av.open(str(remuxed), "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    assert verify_file(remuxed, anchor).state == "Missing"
    png = sign_file(media["png"], tmp_path / "signed.png", spec(), config)
    Image.open(png).save(tmp_path / "resaved.png")
    assert verify_file(tmp_path / "resaved.png", anchor).state == "Missing"
    assert verify_file(media["mp4"], anchor).state == "Missing"


def test_callback_signer_returning_raw_r_s_is_trusted(
    media: dict[str, Path], pki: PkiPaths, anchor: str, tmp_path: Path
) -> None:
    calls: list[int] = []
    sign_raw = ecdsa_raw_signer(pki.key.read_bytes())

    def hsm(data: bytes) -> bytes:  # what an HSM's sign call would be wrapped into
        calls.append(len(data))
        return sign_raw(data)

    with callback_signer(hsm, pki.chain.read_text()) as signer:
        signed = sign_file(media["mp4"], tmp_path / "hsm.mp4", spec(), signer)
    assert calls and len(sign_raw(b"claim")) == 64
    assert verify_file(signed, anchor).state == "Trusted"


def test_signing_in_place_and_a_failed_sign_leaves_nothing(
    media: dict[str, Path], config: SignerConfig, anchor: str, tmp_path: Path
) -> None:
    target = tmp_path / "inplace.png"
    target.write_bytes(media["png"].read_bytes())
    assert verify_file(sign_file(target, target, spec(), config), anchor).state == "Trusted"

    def broken(data: bytes) -> bytes:
        raise RuntimeError("HSM offline")

    with callback_signer(broken, config.chain.read_text()) as signer, pytest.raises(ProvenanceError):
        sign_file(media["mp4"], tmp_path / "never.mp4", spec(), signer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inplace.png"]


def test_jpeg_and_prores_mov_embed(media: dict[str, Path], config: SignerConfig, anchor: str, tmp_path: Path) -> None:
    mov = tmp_path / "plate.mov"
    with av.open(str(mov), "w") as out:
        stream = out.add_stream("prores_ks", rate=Fraction(8))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuva444p10le"
        stream.options = {"profile": "4"}  # ProRes 4444
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    for src, name in ((media["jpg"], "still.jpg"), (mov, "signed.mov")):
        report = verify_file(sign_file(src, tmp_path / name, spec(), config), anchor)
        assert report.state == "Trusted" and report.sidecar is None, (name, report.codes)


def test_exr_gets_a_sidecar_bound_to_its_bytes(config: SignerConfig, anchor: str, tmp_path: Path) -> None:
    import OpenEXR

    src = tmp_path / "element.exr"
    pixels = np.random.default_rng(1).random((16, 16, 3), dtype=np.float32)
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": pixels}).write(str(src))
    assert not embeds("image/x-exr")
    dst = sign_file(src, tmp_path / "out" / "element.exr", spec(), config)
    assert dst.read_bytes() == src.read_bytes()  # the EXR itself is untouched
    report = verify_file(dst, anchor)
    assert report.state == "Trusted" and report.sidecar == str(sidecar_path(dst))
    assert report.record_id == "gen_0123456789abcdef"
    _flip(dst, dst.stat().st_size // 2)
    assert verify_file(dst, anchor).state == "Invalid"
    sidecar_path(dst).unlink()
    assert verify_file(dst, anchor).state == "Missing"


def test_workspace_gets_a_test_pki_and_uses_it_by_default(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", tenant="acme")
    pki = tmp_path / "ws" / "pki"
    assert {p.name for p in pki.iterdir()} == {"root.pem", "chain.pem", "signer.key"}
    assert stat.S_IMODE((pki / "signer.key").stat().st_mode) == 0o600
    config = signer_config(ws.home, ws.settings)
    assert (config.chain, config.key, config.trust_anchors) == (pki / "chain.pem", pki / "signer.key", pki / "root.pem")
    ws.close()
    # An older workspace without one gets it made on first use.
    old = tmp_path / "old"
    old.mkdir()
    assert signer_config(old, WorkspaceSettings()).chain == old / "pki" / "chain.pem"
    studio = WorkspaceSettings(signing_cert="certs/chain.pem", signing_key="certs/key.pem")
    with pytest.raises(ProvenanceError, match="do not exist"):
        signer_config(old, studio)


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _box(data: bytes, kind: bytes) -> tuple[int, int]:
    """Payload range of the first top-level ISO BMFF box of this type."""
    pos = 0
    while pos < len(data):
        size, box = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        if box == kind:
            return pos + header, pos + size
        pos += size or len(data)
    raise AssertionError(f"no {kind!r} box")


def _png_chunk(data: bytes, kind: bytes) -> tuple[int, int]:
    """Data range of the first PNG chunk of this type."""
    pos = 8
    while pos < len(data):
        length, chunk = struct.unpack(">I4s", data[pos : pos + 8])
        if chunk == kind:
            return pos + 8, pos + 8 + length
        pos += 12 + length
    raise AssertionError(f"no {kind!r} chunk")
