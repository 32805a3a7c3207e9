"""Estimate of plain libx264's size at the same settings, from the saliency encode alone.

No second encode and no sampling pass: after the encode the output is decoded
once anyway for the realised-QP report (:mod:`salcodec.qpreport`), and every
frame then gives the QP ``q`` each macroblock really got and the offset ``o``
the encoder was asked to add on top of its own AQ and MB-tree. Plain x264
would have used about ``q - o`` there (x264 adds the ROI offsets to its own
per-block QP; the frame QP of CRF does not move with them, measured in
``benchmarks/plain_estimate.py``). With the bits of a block taken as
``w * 2 ** (-q / k)``, ``w`` its texture (luma variance of the decoded block,
:func:`block_texture`: textured blocks hold the bits, even at the higher QP
x264's AQ gives them), plain x264's bytes for the frame are about

    bytes_f * sum(w * 2 ** (-(q - o) / k)) / sum(w * 2 ** (-q / k))

The model is first order: it ignores that a block raised to a higher QP
often becomes a skip (no bits at all), that a worse reference costs the
frames predicted from it more, and that MB-tree answers the changed
references. ``k`` is therefore fitted on development clips rather than taken
from the textbook value (about 6: bits halve every 6 QP); the measured error
is in :data:`ERROR_NOTE` and docs/budget.md.
"""

from __future__ import annotations

import cv2
import numpy as np

#: QP per halving of a block's bits, fitted on development clips (docs/budget.md).
K = 8.0

#: How the estimate is made, for the JSON.
METHOD = (f"per frame: output bytes x sum w 2^-(QP-offset)/{K:g} / sum w 2^-QP/{K:g} over "
          "macroblocks (realised QP decoded from the output, offsets as requested, w the "
          "decoded block's luma variance + 1)")

#: The measured error of the estimate (benchmarks/plain_estimate.py, docs/budget.md).
ERROR_NOTE = ("an estimate, not an encode: on held-out clips off from plain libx264's real "
              "size by 4.5% on average and 10% at worst (the saving by 4 and 8 points)")


def plain_ratio(qp: np.ndarray, offsets: np.ndarray, k: float = K,
                weights: np.ndarray | None = None) -> float:
    """Plain x264's estimated bytes for one frame over the frame's real bytes.

    Parameters
    ----------
    qp : ndarray, shape (mb_h, mb_w)
        The QP each macroblock really got (decoded from the output).
    offsets : ndarray, shape (mb_h, mb_w)
        The QP offsets the encoder was asked to add (positive = fewer bits).
    k : float
        QP per halving of a block's bits.
    weights : ndarray, shape (mb_h, mb_w), optional
        Each block's share of the bits at equal QP (:func:`block_texture`);
        None weighs all alike.

    Returns
    -------
    float
        1 for zero offsets; above 1 when the offsets raised the QP (plain x264
        would have spent more), below 1 when they lowered it.
    """
    q = np.asarray(qp, dtype=np.float64)
    o = np.asarray(offsets, dtype=np.float64)
    if q.shape != o.shape:
        raise ValueError(f"QP map {q.shape} and offsets {o.shape} differ in shape")
    if q.size == 0:
        return 1.0
    # Relative to the frame's least QP so the powers stay in range.
    base = np.exp2(-(q - q.min()) / k)
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != q.shape:
            raise ValueError(f"weights {w.shape} and QP map {q.shape} differ in shape")
        base = base * w
    return float((base * np.exp2(o / k)).sum() / base.sum())


def block_texture(luma: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Weight of each 16x16 macroblock: its luma variance + 1 (from every other pixel).

    Parameters
    ----------
    luma : ndarray, shape (height, width)
        The decoded luma plane (any bit depth; variance in its own units).
    grid : (mb_h, mb_w)
        The macroblock grid; blocks cut by the frame's edge repeat its last pixels.

    Returns
    -------
    ndarray of float64, shape grid
    """
    mb_h, mb_w = grid
    # Half resolution: 8x8 samples per block are plenty for a weight, at a quarter the cost.
    y = np.asarray(luma)[::2, ::2]
    h, w = mb_h * 8, mb_w * 8
    if y.shape != (h, w):
        y = np.pad(y[:h, :w], ((0, max(0, h - y.shape[0])), (0, max(0, w - y.shape[1]))),
                   mode="edge")
    y = y.astype(np.float32)
    # Block means of x and x^2 by OpenCV's area resize (exact 8x8 averages, 4x
    # faster than numpy's strided mean); E[x^2] - E[x]^2 in float32, whose
    # rounding is far below the +1.
    mean = cv2.resize(y, (mb_w, mb_h), interpolation=cv2.INTER_AREA)
    square = cv2.resize(y * y, (mb_w, mb_h), interpolation=cv2.INTER_AREA)
    return np.maximum(square - mean * mean, 0).astype(np.float64) + 1.0


class PlainEstimate:
    """Accumulates, frame by frame, plain x264's estimated picture bytes."""

    def __init__(self, k: float = K) -> None:
        self.k = k
        self.frames = 0
        self.skipped = 0
        self.video_bytes = 0
        self.plain_video_bytes = 0.0

    def add(self, nbytes: int, qp: np.ndarray | None, offsets: np.ndarray | None,
            weights: np.ndarray | None = None) -> None:
        """One frame: its coded bytes, realised QP map, requested offsets and block weights.

        A frame without a usable map (None, or another grid) counts as plain
        x264's size, so the estimate errs towards no saving.
        """
        self.video_bytes += nbytes
        if qp is None or offsets is None or np.shape(qp) != np.shape(offsets):
            self.skipped += 1
            self.plain_video_bytes += nbytes
            return
        self.frames += 1
        self.plain_video_bytes += nbytes * plain_ratio(qp, offsets, self.k, weights)

    def result(self, file_bytes: int) -> dict:
        """The JSON block: plain x264's estimated file size and the saving against it.

        ``file_bytes`` is the output file's size; what is not picture data
        (container, SEI, copied audio) is taken to be the same in plain x264's file.
        """
        if not self.video_bytes or not self.frames:
            return unavailable("no frame of the output could be paired with its offsets")
        plain_video = round(self.plain_video_bytes)
        plain = file_bytes - self.video_bytes + plain_video
        if plain_video <= 0 or plain <= 0:  # a stream of a few bytes: no ratio to state
            return unavailable("the coded pictures are too small to estimate from")
        return {"bytes": plain, "saving": round(1 - file_bytes / plain, 4),
                "video_bytes": plain_video,
                "video_saving": round(1 - self.video_bytes / plain_video, 4),
                "frames": self.frames, "frames_unpaired": self.skipped,
                "method": METHOD, "error_note": ERROR_NOTE}


def unavailable(reason: str) -> dict:
    """The JSON block when no estimate can be made, with the reason."""
    return {"bytes": None, "saving": None, "reason": reason}


def unavailable_reason(*, saliency: bool, pipe: bool, decoded: str,
                       qp_export: str | None) -> str | None:
    """Why an encode with these traits gets no estimate; None when it gets one.

    ``decoded`` is the output's codec as a decoder names it (h264, hevc, vp9);
    ``qp_export`` the encoder's reason that its QP cannot be read back, if any.
    """
    if not saliency:
        return "no saliency: the output is the plain encode itself"
    if pipe:
        return "the video went to a pipe, so it cannot be decoded back afterwards"
    if qp_export:
        return qp_export
    if decoded != "h264":
        return ("calibrated for H.264 only (VP9's q index has another bits-per-step "
                "relation, not measured)")
    return None
