"""C2PA manifests for generated outputs: what a manifest says, signing it into a file, verifying a file.

Every output says it is trainedAlgorithmicMedia made by a named model, forbids AI training and data mining on
itself, and carries an `org.cinefoundry.generation` assertion (record id, watermark id, attributions, terms)
that resolves to the generation record. Formats c2pa can embed into (MP4, MOV incl. ProRes, PNG, JPEG, ...)
get the manifest inside the file; others (OpenEXR) get a sidecar `<name>.c2pa` store bound to the file's hash.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import mimetypes
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import c2pa

from cinefoundry import __version__
from cinefoundry.provenance.pki import ProvenanceError, SignerConfig

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ACTIONS_LABEL = "c2pa.actions.v2"
TRAINING_MINING_LABEL = "cawg.training-mining"  # C2PA 2.x moved training/mining preferences to CAWG
GENERATION_LABEL = "org.cinefoundry.generation"
SIDECAR_SUFFIX = ".c2pa"  # c2patool's convention: <stem>.c2pa next to the asset
NOT_ALLOWED_USES = ("cawg.ai_training", "cawg.ai_generative_training", "cawg.ai_inference", "cawg.data_mining")
# Claim-signer EKUs a verifier accepts: emailProtection, documentSigning, timeStamping, OCSPSigning, Microsoft
# document signing, C2PA claim signing. Without this list c2pa accepts only emailProtection ("certificate
# missing required EKU" for a documentSigning cert).
ALLOWED_EKUS = (
    "1.3.6.1.5.5.7.3.4",
    "1.3.6.1.5.5.7.3.36",
    "1.3.6.1.5.5.7.3.8",
    "1.3.6.1.5.5.7.3.9",
    "1.3.6.1.4.1.311.76.59.1.9",
    "1.3.6.1.4.1.62558.2.1",
)
_MIME_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".exr": "image/x-exr",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".webp": "image/webp",
}


@dataclass(kw_only=True)
class ManifestSpec:
    """What one output's manifest states. `title` and `mime` default to the signed file's name and type."""

    model_id: str  # e.g. "demo@v1"
    record_id: str  # the generation record, e.g. "gen_0123abcd..."
    watermark_id: str  # 16 hex digits carried by the invisible watermark
    prompt_sha256: str
    licence: str  # the model's licence
    attributions: list[str] = field(default_factory=list)  # CC-BY lines of the titles in the model's dataset
    terms: dict[str, Any] | None = None  # a licensed edition's terms, when generated under one
    title: str | None = None
    mime: str | None = None
    source_type: str = TRAINED_ALGORITHMIC_MEDIA  # a board's animatic is compositeWithTrainedAlgorithmicMedia
    generator: str = "cinefoundry"
    generator_version: str = __version__

    def generation(self) -> dict[str, Any]:
        """The `org.cinefoundry.generation` assertion's data."""
        return {
            "record_id": self.record_id,
            "watermark_id": self.watermark_id,
            "model_id": self.model_id,
            "prompt_sha256": self.prompt_sha256,
            "licence": self.licence,
            "attributions": list(self.attributions),
            "terms": self.terms,
        }

    def definition(self, title: str, mime: str) -> dict[str, Any]:
        """The c2pa Builder's manifest definition (JSON) for a file called `title` of type `mime`."""
        created = {
            "action": "c2pa.created",
            "digitalSourceType": self.source_type,
            "softwareAgent": {"name": self.model_id},
        }
        no_use = {use: {"use": "notAllowed"} for use in NOT_ALLOWED_USES}
        return {
            "claim_generator_info": [{"name": self.generator, "version": self.generator_version}],
            "title": self.title or title,
            "format": self.mime or mime,
            "assertions": [
                {"label": ACTIONS_LABEL, "data": {"actions": [created]}},
                {"label": TRAINING_MINING_LABEL, "data": {"entries": no_use}},
                {"label": GENERATION_LABEL, "data": self.generation()},
            ],
        }


@dataclass
class ManifestReport:
    """What `verify_file` found: state (Trusted, Valid, Invalid, Missing), failure codes, who signed, and the
    generation assertion's fields."""

    path: str
    state: str
    codes: list[str] = field(default_factory=list)
    manifest_label: str | None = None
    sidecar: str | None = None  # the .c2pa file the manifest came from, when not embedded
    signer_common_name: str | None = None
    signer_issuer: str | None = None
    signed_at: str | None = None  # only with a TSA timestamp
    record_id: str | None = None
    watermark_id: str | None = None
    model_id: str | None = None
    attributions: list[str] = field(default_factory=list)
    generation: dict[str, Any] = field(default_factory=dict)
    assertions: dict[str, Any] = field(default_factory=dict)  # label -> data of the active manifest
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def mime_for(path: Path) -> str:
    """The media type of a file, from its suffix."""
    return _MIME_BY_SUFFIX.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def embeds(mime: str) -> bool:
    """Whether c2pa can embed a manifest into this media type (else `sign_file` writes a sidecar)."""
    return mime in c2pa.Builder.get_supported_mime_types()


def sidecar_path(path: Path) -> Path:
    """Where a sidecar manifest store of `path` lives: `<stem>.c2pa` beside it."""
    return path.with_suffix(SIDECAR_SUFFIX)


def local_signer(config: SignerConfig) -> c2pa.Signer:
    """A c2pa signer from a PEM chain (signer first) and private key on disk; close it when done."""
    info = c2pa.C2paSignerInfo(config.alg.encode(), config.chain.read_bytes(), config.key.read_bytes(), config.tsa_url)
    return c2pa.Signer.from_info(info)


def callback_signer(
    sign: Callable[[bytes], bytes], chain_pem: str, alg: str = "es256", tsa_url: str | None = None
) -> c2pa.Signer:
    """A c2pa signer whose private key stays elsewhere (an HSM, a KMS): `sign(claim_bytes)` returns the signature.

    For ES256/384/512 the signature must be raw r||s (COSE form), not the DER that most HSM APIs return.
    """
    return c2pa.Signer.from_callback(sign, c2pa.C2paSigningAlg[alg.upper()], chain_pem, tsa_url)


def sign_file(src: Path, dst: Path, spec: ManifestSpec, signer: c2pa.Signer | SignerConfig) -> Path:
    """Write `src` to `dst` with a signed manifest (embedded, or a sidecar `.c2pa` for formats c2pa cannot
    embed into); returns `dst`. `src` and `dst` may be the same file; nothing is left behind on failure."""
    src, dst = Path(src), Path(dst)
    mime = spec.mime or mime_for(dst)
    definition = spec.definition(dst.name, mime)
    try:
        with (
            _signer(signer) as native,
            _context(None, signing=True) as context,
            c2pa.Builder(definition, context=context) as builder,
        ):
            if embeds(mime):
                _sign_embedded(builder, native, mime, src, dst)
            else:
                _sign_sidecar(builder, native, src, dst)
    except c2pa.C2paError as e:
        # A callback signer's own exception is logged by c2pa ("Error in signer callback: ...") and reaches us
        # only as a generic signature error.
        raise ProvenanceError(f"could not sign {src.name} as {mime}: {e}") from e
    return dst


def verify_file(path: Path, trust_anchors_pem: str | None = None) -> ManifestReport:
    """Read and validate the manifest of `path` (embedded, else its sidecar).

    Trusted needs the signer chain to lead to one of `trust_anchors_pem` (which replace c2pa's built-in
    anchors); without anchors a good signature from an unknown CA is Valid.
    """
    path = Path(path)
    mime = mime_for(path)
    sidecar = sidecar_path(path)
    with _context(trust_anchors_pem) as context:
        try:
            store, used_sidecar = _read(path, mime, sidecar, context)
        except c2pa.C2paError as e:
            return ManifestReport(path=str(path), state="Invalid", codes=["manifest.unreadable"], error=str(e))
    if store is None:
        return ManifestReport(path=str(path), state="Missing")
    return _report(path, store, sidecar if used_sidecar else None)


def _read(path: Path, mime: str, sidecar: Path, context: c2pa.Context) -> tuple[dict[str, Any] | None, bool]:
    """The manifest store as JSON (embedded first, then the sidecar), and whether it came from the sidecar."""
    if embeds(mime):
        with open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(mime, stream, None, context)
            if reader is not None:
                with reader:
                    return json.loads(reader.json()), False
    if not sidecar.exists():
        return None, False
    with open(path, "rb") as stream, c2pa.Reader(mime, stream, sidecar.read_bytes(), context) as reader:
        return json.loads(reader.json()), True


def _report(path: Path, store: dict[str, Any], sidecar: Path | None) -> ManifestReport:
    label = store.get("active_manifest")
    manifest = store.get("manifests", {}).get(label, {})
    assertions = {a["label"]: a.get("data") for a in manifest.get("assertions", [])}
    generation = assertions.get(GENERATION_LABEL) or {}
    signature = manifest.get("signature_info") or {}
    state = store.get("validation_state") or ("Invalid" if store.get("validation_status") else "Valid")
    return ManifestReport(
        path=str(path),
        state=state,
        codes=[s["code"] for s in store.get("validation_status") or []],
        manifest_label=label,
        sidecar=str(sidecar) if sidecar else None,
        signer_common_name=signature.get("common_name"),
        signer_issuer=signature.get("issuer"),
        signed_at=signature.get("time"),
        record_id=generation.get("record_id"),
        watermark_id=generation.get("watermark_id"),
        model_id=generation.get("model_id"),
        attributions=list(generation.get("attributions") or []),
        generation=generation,
        assertions=assertions,
    )


def _sign_embedded(builder: c2pa.Builder, signer: c2pa.Signer, mime: str, src: Path, dst: Path) -> None:
    # Write beside dst and rename: signing in place works, and a failed sign leaves no half-signed file
    # (c2pa writes the output before its verify-after-sign check can reject it).
    tmp = dst.with_name(f".{dst.name}.signing")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(src, "rb") as source, open(tmp, "w+b") as out:
            builder.sign(signer, mime, source, out)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _sign_sidecar(builder: c2pa.Builder, signer: c2pa.Signer, src: Path, dst: Path) -> None:
    store = _sign_detached(builder, signer, src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.resolve() != dst.resolve():
        tmp = dst.with_name(f".{dst.name}.signing")
        tmp.write_bytes(src.read_bytes())
        os.replace(tmp, dst)
    sidecar_path(dst).write_bytes(store)


def _sign_detached(builder: c2pa.Builder, signer: c2pa.Signer, src: Path) -> bytes:
    """A manifest store bound to the whole of `src` by a data hash, for formats c2pa cannot embed into.

    c2pa-python 0.38 wraps no data-hash signing, so this calls the C API of the library it ships: a placeholder
    gives the claim its hard binding, then the file's SHA-256 is signed into it. Private handles are used here
    and nowhere else.
    """
    lib = _c_api()
    if lib is None:
        raise ProvenanceError("this c2pa-python build cannot sign sidecar manifests (no data-hash signing API)")
    data_hash = json.dumps({"exclusions": [], "name": "jumbf manifest", "alg": "sha256", "hash": [], "pad": []})
    builder_ptr = ctypes.cast(builder._handle, ctypes.c_void_p)
    signer_ptr = ctypes.cast(signer._handle, ctypes.c_void_p)
    placeholder = ctypes.POINTER(ctypes.c_ubyte)()
    size = lib.c2pa_builder_data_hashed_placeholder(
        builder_ptr, signer.reserve_size(), b"application/c2pa", ctypes.byref(placeholder)
    )
    _check(size, "placeholder")
    lib.c2pa_free(placeholder)
    signed = ctypes.POINTER(ctypes.c_ubyte)()
    with open(src, "rb") as source:
        stream = c2pa.Stream(source)
        try:
            size = lib.c2pa_builder_sign_data_hashed_embeddable(
                builder_ptr,
                signer_ptr,
                data_hash.encode(),
                b"application/c2pa",
                ctypes.cast(stream._stream, ctypes.c_void_p),
                ctypes.byref(signed),
            )
        finally:
            stream.close()
    _check(size, "data-hash signing")
    try:
        return ctypes.string_at(signed, size)
    finally:
        lib.c2pa_free(signed)


@functools.cache
def _c_api() -> ctypes.CDLL | None:
    """Our own handle on c2pa-python's native library, with the two data-hash calls declared."""
    native = getattr(getattr(c2pa, "c2pa", None), "_lib", None)
    if native is None:
        return None
    lib = ctypes.CDLL(native._name)  # same loaded library; separate prototypes, so c2pa-python's are untouched
    if not hasattr(lib, "c2pa_builder_sign_data_hashed_embeddable"):
        return None
    out = ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))
    voidp, int64 = ctypes.c_void_p, ctypes.c_int64
    lib.c2pa_builder_data_hashed_placeholder.argtypes = [voidp, ctypes.c_size_t, ctypes.c_char_p, out]
    lib.c2pa_builder_data_hashed_placeholder.restype = int64
    lib.c2pa_builder_sign_data_hashed_embeddable.argtypes = [voidp, voidp, ctypes.c_char_p, ctypes.c_char_p, voidp, out]
    lib.c2pa_builder_sign_data_hashed_embeddable.restype = int64
    lib.c2pa_free.argtypes = [voidp]
    lib.c2pa_free.restype = ctypes.c_int
    return lib


def _check(result: int, step: str) -> None:
    # Raises the typed C2paError carrying the native error message, as c2pa-python's own calls do.
    c2pa.c2pa._check_ffi_operation_result(result, f"c2pa {step} failed: {{}}", check=lambda r: r < 0)


@contextlib.contextmanager
def _signer(signer: c2pa.Signer | SignerConfig) -> Iterator[c2pa.Signer]:
    """A native signer for one call: the caller's own, or one made (and closed) from a SignerConfig."""
    if isinstance(signer, SignerConfig):
        with local_signer(signer) as native:
            yield native
    else:
        yield signer


def _context(trust_anchors_pem: str | None, signing: bool = False) -> c2pa.Context:
    """c2pa settings for one call: offline (no remote manifests, no OCSP), our EKU list, optional anchors."""
    trust: dict[str, Any] = {"trust_config": "\n".join(ALLOWED_EKUS)}
    if trust_anchors_pem:
        trust["trust_anchors"] = trust_anchors_pem
    config: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}, "trust": trust}
    if signing:
        # A claim thumbnail of a still repeats the still (a 480p PNG grew from 1.2 to 1.9 MB); video gets none.
        config["builder"] = {"thumbnail": {"enabled": False}}
    return c2pa.Context.from_dict(config)
