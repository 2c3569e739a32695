"""Signing certificates for C2PA: a local test chain (root, intermediate, ES256 signer) and the workspace's config.

A studio signs with its own certificate chain and key (or an HSM, see `manifest.callback_signer`) once it has
one; until then every workspace gets a test PKI in `<home>/pki/` so outputs are signed from the first run. The
test root is the trust anchor verifiers are given: it is trusted only by those who choose to trust it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID, ObjectIdentifier

from cinefoundry.core.errors import CinefoundryError
from cinefoundry.core.settings import WorkspaceSettings

PKI_DIR = "pki"
ROOT_FILE = "root.pem"
CHAIN_FILE = "chain.pem"
KEY_FILE = "signer.key"
# documentSigning (RFC 9336): the EKU the C2PA trust model expects of a claim signer.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # cryptography has no constant for it
ROOT_YEARS, INTERMEDIATE_YEARS, SIGNER_YEARS = 20, 10, 2


class ProvenanceError(CinefoundryError):
    """A signing certificate, key or manifest is missing, malformed or unusable."""


@dataclass(frozen=True)
class PkiPaths:
    """The files of a signing PKI: trust anchor, signer chain (signer first, then intermediate), signer key."""

    root: Path
    chain: Path
    key: Path

    def exists(self) -> bool:
        return self.root.exists() and self.chain.exists() and self.key.exists()


@dataclass(frozen=True)
class SignerConfig:
    """What `manifest.local_signer` needs: PEM chain and key, algorithm, optional RFC 3161 TSA, trust anchor."""

    chain: Path
    key: Path
    alg: str = "es256"
    tsa_url: str | None = None
    trust_anchors: Path | None = None

    def anchors_pem(self) -> str | None:
        """The trust anchors as PEM text (what `manifest.verify_file` takes), or None when none is configured."""
        return self.trust_anchors.read_text(encoding="ascii") if self.trust_anchors else None


def pki_paths(folder: Path) -> PkiPaths:
    """Where a PKI made by `make_test_pki` keeps its files."""
    return PkiPaths(root=folder / ROOT_FILE, chain=folder / CHAIN_FILE, key=folder / KEY_FILE)


def make_test_pki(folder: Path, org: str) -> PkiPaths:
    """Create a test chain (root CA -> intermediate CA -> ES256 document-signing cert) in `folder`.

    Idempotent: an existing complete PKI is returned untouched; a partial one is an error, never overwritten.
    Only the signer key is kept (0600): the CA keys are dropped, so nothing but this signer chains to the root.
    """
    paths = pki_paths(folder)
    if paths.exists():
        return paths
    present = [p.name for p in (paths.root, paths.chain, paths.key) if p.exists()]
    if present:
        raise ProvenanceError(f"{folder} holds part of a PKI ({', '.join(present)}); restore or remove it")
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    # Back-dated a little so a verifier whose clock lags ours does not see a not-yet-valid certificate.
    start = now - dt.timedelta(hours=1)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(org, f"{org} cinefoundry test root CA")
    root = _ca_cert(root_name, root_key, root_name, root_key, start, ROOT_YEARS, path_length=1)

    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter_name = _name(org, f"{org} cinefoundry test intermediate CA")
    inter = _ca_cert(inter_name, inter_key, root_name, root_key, start, INTERMEDIATE_YEARS, path_length=0)

    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = _signer_cert(_name(org, f"{org} cinefoundry signer"), signer_key, inter, inter_key, start)

    _write_private(paths.key, signer_key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, _NO_PASSWORD))
    paths.chain.write_bytes(signer.public_bytes(_PEM) + inter.public_bytes(_PEM))
    paths.root.write_bytes(root.public_bytes(_PEM))
    return paths


def signer_config(home: Path, settings: WorkspaceSettings) -> SignerConfig:
    """The workspace's signer: `signing_cert` + `signing_key` from settings, else the test PKI in <home>/pki/.

    The test PKI is made on first use, so workspaces created before it existed get one too. Relative paths
    in settings are relative to the workspace folder.
    """
    anchors = _resolve(home, settings.trust_anchors) if settings.trust_anchors else None
    if settings.signing_cert or settings.signing_key:
        if not (settings.signing_cert and settings.signing_key):
            raise ProvenanceError("settings name only one of signing_cert and signing_key; a signer needs both")
        chain, key = _resolve(home, settings.signing_cert), _resolve(home, settings.signing_key)
        missing = [str(p) for p in (chain, key) if not p.exists()]
        if missing:
            raise ProvenanceError(f"signing file(s) named in settings do not exist: {', '.join(missing)}")
        alg = settings.signing_alg or "es256"
        return SignerConfig(chain=chain, key=key, alg=alg, tsa_url=settings.tsa_url, trust_anchors=anchors)
    paths = make_test_pki(home / PKI_DIR, settings.tenant)
    return SignerConfig(chain=paths.chain, key=paths.key, tsa_url=settings.tsa_url, trust_anchors=anchors or paths.root)


def ecdsa_raw_signer(key_pem: bytes) -> Callable[[bytes], bytes]:
    """A signing callable over a local EC key returning raw r||s, the form a c2pa callback signer must return.

    The stand-in for an HSM or KMS (which sign the same bytes but usually answer in DER, converted the same way).
    """
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ProvenanceError("ecdsa_raw_signer needs an EC private key")
    size = (key.curve.key_size + 7) // 8
    digest = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return sign


_PEM = serialization.Encoding.PEM
_NO_PASSWORD = serialization.NoEncryption()


def _name(org: str, common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def _ca_cert(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    start: dt.datetime,
    years: int,
    path_length: int,
) -> x509.Certificate:
    builder = (
        _base(subject, key, issuer, issuer_key, start, years)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _signer_cert(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    start: dt.datetime,
) -> x509.Certificate:
    builder = (
        _base(subject, key, issuer.subject, issuer_key, start, SIGNER_YEARS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING]), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _base(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    start: dt.datetime,
    years: int,
) -> x509.CertificateBuilder:
    # c2pa rejects certificates without SubjectKeyIdentifier / AuthorityKeyIdentifier when building the chain.
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * years))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only, from creation on (no window with wider permissions)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)  # os.open's mode is filtered by the umask; make it exact


def _resolve(home: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else home / path
