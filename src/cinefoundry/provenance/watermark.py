"""Invisible video watermark: a 64-bit id + CRC-16 carried by every frame, behind the `Watermarker` interface.

`QIMWatermarker` ("qim-luma-v1") quantises keyed projections of low-frequency DCT coefficients of the luma
plane on a canonical 64x64 grid (spread-transform quantisation-index modulation with a keyed dither). The
frame is resized to that grid, marked there, and only the difference is upsampled back onto the frame, so a
detector can resize whatever it gets (any size, re-encoded, rescaled) to the same grid. Detection averages
soft votes over every slot and frame, decodes the channel code (64-bit id + CRC-16 under a K=7 rate-1/2
convolutional code, decoded max-log-MAP), then checks the CRC: a video-level decision.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from cinefoundry.provenance.frames import read_frames, reencode

__all__ = [
    "PAYLOAD_BITS",
    "Detection",
    "QIMWatermarker",
    "Watermarker",
    "default_watermarker",
    "detect_file",
    "read_frames",
    "reencode",
]

CANON, BLOCK = 64, 8  # the canonical luma grid and its DCT block: 8x8 blocks of 8x8 coefficients
# Coefficients (row, col) of each 8x8 block that carry the mark: the lowest AC frequencies, which H.264 keeps
# best and which survive resampling; on the canonical grid they stay well below the Nyquist limit of 64x64.
COEFFS = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1))
PROJECTIONS = 3  # quantised directions per block: 192 slots a frame for the 172 coded bits
DEFAULT_KEY = 0x5EED_C0DE
# QIM step in orthonormal-DCT luma units (0-255 scale): about 38.5 dB PSNR at any frame size; 64x64 clips
# re-encoded at CRF 23 decode from a step of 40 up, so 48 leaves a margin.
DEFAULT_STEP = 48.0

# The channel code: the standard K=7 (171, 133 octal) convolutional code, terminated with 6 zero bits, turns the
# 80 data bits into 172 coded bits; max-log-MAP decoding gives a hard decision and a soft value per data bit.
PAYLOAD_BITS, CRC_BITS = 64, 16
DATA_BITS = PAYLOAD_BITS + CRC_BITS  # 80
K = 7  # constraint length: 64 states
POLYS = (0o171, 0o133)
FREE_DISTANCE = 10  # of this code: the least number of coded bits two paths differ in
CODED_BITS = 2 * (DATA_BITS + K - 1)  # 172

_STATES = 1 << (K - 1)
_s, _b = np.meshgrid(np.arange(_STATES), np.arange(2), indexing="ij")
_REG = (_s << 1) | _b  # (64 states, 2 inputs): shift register, newest bit lowest
_NEXT = _REG & (_STATES - 1)  # (64, 2) next state
_OUT = np.stack([np.vectorize(lambda r, p=p: bin(r & p).count("1") & 1)(_REG) for p in POLYS], axis=-1)  # (64,2,2)
_SIGN = (2.0 * _OUT - 1).astype(np.float32)  # coded bit as -1 / +1
# Predecessors of each next state n: states (n >> 1) and (n >> 1) | 32, both with input bit n & 1.
_PRED = np.stack([np.arange(_STATES) >> 1, (np.arange(_STATES) >> 1) | (_STATES >> 1)], axis=-1)  # (64, 2)
_PRED_BIT = np.arange(_STATES) & 1


def payload_bits(payload: int) -> np.ndarray:
    """(80,) uint8: the 64-bit payload, most significant bit first, then its CRC-16/CCITT."""
    if not 0 <= payload < 1 << PAYLOAD_BITS:
        raise ValueError(f"payload must be a 64-bit unsigned integer, got {payload}")
    data = payload.to_bytes(8, "big")
    word = int.from_bytes(data + binascii.crc_hqx(data, 0xFFFF).to_bytes(2, "big"), "big")
    return np.array([(word >> (DATA_BITS - 1 - i)) & 1 for i in range(DATA_BITS)], dtype=np.uint8)


def check_payload(bits: np.ndarray) -> int | None:
    """The payload of 80 hard bits when their CRC checks, else None."""
    word = int("".join("1" if b else "0" for b in bits), 2)
    payload, crc = word >> CRC_BITS, word & ((1 << CRC_BITS) - 1)
    return payload if binascii.crc_hqx(payload.to_bytes(8, "big"), 0xFFFF) == crc else None


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """(80,) data bits -> (172,) uint8 coded bits (two per input bit, 6 zero tail bits flush the register)."""
    state, out = 0, []
    for b in np.concatenate([bits, np.zeros(K - 1, dtype=np.uint8)]):
        out.extend(_OUT[state, int(b)])
        state = _NEXT[state, int(b)]
    return np.array(out, dtype=np.uint8)


def conv_decode(soft: np.ndarray) -> np.ndarray:
    """(172,) soft coded values (> 0 means 1, magnitude = confidence) -> (80,) LLRs of the data bits (> 0: 1).

    Max-log-MAP: the best path through the trellis with each data bit at 1, minus the best with it at 0.
    """
    steps = len(soft) // 2
    r = soft.reshape(steps, 2).astype(np.float32)
    branch = np.einsum("sbk,tk->tsb", _SIGN, r)  # (steps, 64, 2) correlation of each branch with what was read
    neg = np.float32(-1e9)
    alpha = np.full((steps + 1, _STATES), neg, dtype=np.float32)
    alpha[0, 0] = 0  # the encoder starts at state 0
    for t in range(steps):
        cand = alpha[t][:, None] + branch[t]  # (64, 2)
        if t >= DATA_BITS:
            cand[:, 1] = neg  # tail bits are zeros
        alpha[t + 1] = np.maximum(cand[_PRED[:, 0], _PRED_BIT], cand[_PRED[:, 1], _PRED_BIT])
    beta = np.full((steps + 1, _STATES), neg, dtype=np.float32)
    beta[steps, 0] = 0  # and ends there after the tail
    for t in range(steps - 1, -1, -1):
        cand = branch[t] + beta[t + 1][_NEXT]
        if t >= DATA_BITS:
            cand[:, 1] = neg
        beta[t] = cand.max(axis=1)
    total = alpha[:DATA_BITS, :, None] + branch[:DATA_BITS] + beta[1 : DATA_BITS + 1][:, _NEXT]  # (80, 64, 2)
    best = total.max(axis=1)  # (80, 2)
    return best[:, 1] - best[:, 0]


@dataclass(frozen=True)
class Detection:
    """What a detector read: the payload when the CRC checks, else None, with the soft evidence."""

    payload: int | None  # the 64-bit id when the CRC checks, else None
    bit_accuracy_hint: float  # mean |soft bit| in [0, 1]: how clearly the bits read
    bits: np.ndarray  # (80,) float soft bits in [-1, 1], > 0 reads as 1: payload (MSB first) then CRC
    frames_used: int


@runtime_checkable
class Watermarker(Protocol):
    """Embeds a 64-bit id into (F, H, W, 3) uint8 RGB frames and reads it back from any size."""

    name: str

    def embed(self, frames: np.ndarray, payload: int) -> np.ndarray: ...

    def detect(self, frames: np.ndarray) -> Detection: ...


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (n, n): coefficients = D @ block @ D.T."""
    k, x = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    d = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2 / n)
    d[0] /= np.sqrt(2)
    return d.astype(np.float32)


_D = _dct_matrix(BLOCK)
_ROWS = np.array([r for r, _ in COEFFS])
_COLS = np.array([c for _, c in COEFFS])


def _coefficients(canon: np.ndarray) -> np.ndarray:
    """(F, 64, 64) canonical luma -> (F, 64 blocks, k) DCT coefficients in COEFFS."""
    nb = CANON // BLOCK
    blocks = canon.reshape(-1, nb, BLOCK, nb, BLOCK).transpose(0, 1, 3, 2, 4).reshape(-1, nb * nb, BLOCK, BLOCK)
    return (_D @ blocks @ _D.T)[:, :, _ROWS, _COLS]


def _from_coefficients(delta: np.ndarray) -> np.ndarray:
    """(F, 64 blocks, k) coefficient changes -> (F, 64, 64) canonical luma change (inverse DCT)."""
    nb = CANON // BLOCK
    full = np.zeros((delta.shape[0], nb * nb, BLOCK, BLOCK), dtype=np.float32)
    full[:, :, _ROWS, _COLS] = delta
    pixels = _D.T @ full @ _D
    return pixels.reshape(-1, nb, nb, BLOCK, BLOCK).transpose(0, 1, 3, 2, 4).reshape(-1, CANON, CANON)


def _canonical(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (64, 64) float32 BT.601 luma: area average when shrinking, bilinear when growing."""
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = luma.shape
    interp = cv2.INTER_AREA if h >= CANON and w >= CANON else cv2.INTER_LINEAR
    return cv2.resize(luma, (CANON, CANON), interpolation=interp)


class QIMWatermarker:
    """Spread-transform QIM on low-frequency luma DCT coefficients of a canonical 64x64 grid ("qim-luma-v1").

    `key` seeds the projections, the slot-to-bit permutation and the dither (a detector needs the same key);
    `strength` is the quantisation step: larger survives harsher attacks and is more visible.
    """

    name = "qim-luma-v1"

    def __init__(self, key: int = DEFAULT_KEY, strength: float = DEFAULT_STEP, iterations: int = 2) -> None:
        self.key, self.step, self.iterations = key, float(strength), iterations
        rng = np.random.default_rng([key & 0xFFFFFFFF, key >> 32 & 0xFFFFFFFF, 0x51])
        blocks = (CANON // BLOCK) ** 2
        # Per block, PROJECTIONS keyed orthonormal directions in the space of the COEFFS coefficients (spread
        # transform): quantising a few projections rather than each coefficient puts the same distortion into
        # fewer, coarser steps, which is what survives the heavy compression noise of a 64x64 clip.
        q, _ = np.linalg.qr(rng.standard_normal((blocks, len(COEFFS), PROJECTIONS)))
        self.basis = q.transpose(0, 2, 1).astype(np.float32)  # (64 blocks, P, k) orthonormal rows
        # Every slot (block, projection) carries one of the 172 coded bits in a keyed order (an interleaver: the
        # errors of one region are spread along the code), some twice; the same layout in every frame, so that
        # skipped and motion-compensated blocks of an H.264 P/B frame copy a mark that is still right.
        self.slot_bit = (rng.permutation(blocks * PROJECTIONS) % CODED_BITS).reshape(blocks, PROJECTIONS)
        self.dither = rng.uniform(0, 1, self.slot_bit.shape).astype(np.float32)  # in steps

    def _project(self, coeffs: np.ndarray) -> np.ndarray:
        """(F, 64 blocks, k) coefficients -> (F, 64 blocks, P) projections."""
        return np.einsum("bpk,fbk->fbp", self.basis, coeffs)

    def embed(self, frames: np.ndarray, payload: int) -> np.ndarray:
        """Mark (F, H, W, 3) uint8 RGB frames with `payload` (64-bit); returns a new array of the same shape."""
        frames = _check(frames)
        code = conv_encode(payload_bits(payload))[self.slot_bit]  # (64 blocks, P) coded bit per slot
        offset = (self.dither + 0.5 * code).astype(np.float32)
        out = np.empty_like(frames)
        for i, frame in enumerate(frames):
            out[i] = self._embed_frame(frame, offset)
        return out

    def _embed_frame(self, frame: np.ndarray, offset: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        marked, change = frame, np.zeros((h, w), dtype=np.float32)
        # Closed loop: upsampling, rounding and clipping at black and white do not give back exactly the canonical
        # change, so measure the marked frame again, re-quantise and add the residual.
        for _ in range(self.iterations):
            proj = self._project(_coefficients(_canonical(marked)[None]))
            u = proj / self.step - offset
            move = (np.round(u) - u) * self.step  # (1, 64 blocks, P): to the nearest point of the bit's lattice
            canon_change = _from_coefficients(np.einsum("bpk,fbp->fbk", self.basis, move))[0]
            change += cv2.resize(canon_change, (w, h), interpolation=cv2.INTER_LINEAR)
            # The same change on R, G and B moves luma by exactly that much and leaves chroma alone.
            d = np.rint(change).astype(np.int16)
            marked = cv2.add(frame, cv2.merge([d, d, d]), dtype=cv2.CV_8U)  # saturating
        return marked

    def soft_bits(self, frames: np.ndarray, canon: np.ndarray | None = None) -> np.ndarray:
        """(F, 64 blocks, P) soft votes in [-1, 1] per slot and frame (> 0 votes for a 1)."""
        if canon is None:
            canon = np.stack([_canonical(f) for f in _check(frames)])
        u = self._project(_coefficients(canon)) / self.step - self.dither
        return -np.cos(2 * np.pi * u)  # +1 on the lattice of a 1 (half a step off that of a 0), -1 on a 0's

    def detect(self, frames: np.ndarray) -> Detection:
        """Average each slot's vote over all frames, decode the code, then check the CRC (video-level decision).

        Blocks that are flat black carry no mark (a keyed element's cleared background, a black frame clipped
        at 0): their votes are left out instead of adding noise.
        """
        canon = np.stack([_canonical(f) for f in _check(frames)])
        blocks = canon.reshape(len(canon), CANON // BLOCK, BLOCK, CANON // BLOCK, BLOCK).max(axis=(2, 4))
        weight = (blocks.reshape(len(canon), -1) > 1.5).astype(np.float32)[..., None]  # (F, 64 blocks, 1)
        soft = self.soft_bits(frames, canon)
        votes = (soft * weight).sum(axis=0) / np.maximum(weight.sum(axis=0), 1.0)  # (64 blocks, P)
        coded = np.bincount(self.slot_bit.ravel(), votes.ravel(), CODED_BITS)  # (172,) summed over repeats
        llr = conv_decode(coded)  # (80,)
        # On a clean read the best path with a bit flipped differs in at least FREE_DISTANCE coded bits, each
        # read as +-1 or more: that scales a soft bit to [-1, 1].
        bits = np.clip(llr / (2 * FREE_DISTANCE), -1, 1)
        return Detection(check_payload(llr > 0), float(np.abs(bits).mean()), bits, len(frames))


def _check(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"expected (F, H, W, 3) uint8 RGB frames, got {frames.shape} {frames.dtype}")
    return frames


def default_watermarker() -> Watermarker:
    """The project's watermark: `QIMWatermarker` with the built-in key and step."""
    return QIMWatermarker()


def detect_file(path: str | Path, watermarker: Watermarker | None = None, max_frames: int | None = 240) -> Detection:
    """Read a video or image file (its first `max_frames` frames: 10 s at 24 fps bounds memory) and detect."""
    return (watermarker or default_watermarker()).detect(read_frames(path, max_frames))
