"""Importance per macroblock -> QP offset per macroblock."""

from __future__ import annotations

import numpy as np

#: Default strength: QP offset per standard deviation of importance. Under the
#: attended budget, 2 kept the gaze-weighted gain of 3-6 at half the cost in
#: unweighted PSNR on the development gaze videos (docs/budget.md).
DEFAULT_STRENGTH = 2.0
DEFAULT_CLAMP = 10.0
#: Offset anchors (see :func:`importance_to_offsets`).
ANCHORS = ("none", "mean", "attended")
#: Exponent of the attended anchor's weights (see :func:`attended_weights`),
#: and the least mean offset it leaves (QP): chosen on the development gaze
#: videos and fixation stills so that EW-PSNR stays within 0.5 dB of plain
#: x264 at the same CRF while every file gets smaller (docs/budget.md).
ANCHOR_SHARPNESS = 1.0
ANCHOR_MIN_MEAN = 1.0


def importance_to_offsets(
    importance: np.ndarray,
    strength: float = DEFAULT_STRENGTH,
    clamp: float = DEFAULT_CLAMP,
    zero_mean: bool = True,
    anchor: str | None = None,
    sharpness: float = ANCHOR_SHARPNESS,
    min_mean: float = ANCHOR_MIN_MEAN,
    cost: np.ndarray | None = None,
) -> np.ndarray:
    """Map per-macroblock importance to QP offsets (negative = more bits).

    ``offset = -strength * (importance - mean) / std``, clamped to
    ``[-clamp, clamp]``, then shifted by a constant (a few alternating
    shift-and-clamp steps) so that a weighted mean of the offsets is zero:

    * ``anchor="mean"`` (or ``zero_mean=True`` without an anchor): the plain
      mean over the frame, so offsets average zero QP;
    * ``anchor="attended"``: the mean weighted by ``w = u ** sharpness``, with
      ``u`` the importance scaled to [0, 1] in the frame, so the blocks people
      look at keep the encoder's own QP and the rest get positive offsets
      (see :func:`attended_weights`); if the frame's mean offset, weighted
      by ``cost`` (what each block costs to code, e.g.
      :func:`salcodec.mbmap.macroblock_activity`; plain mean without it), is
      then below ``min_mean``, all offsets move up to it, so the frame costs
      fewer bits than plain x264's;
    * ``anchor=None`` with ``zero_mean=False``: no shift.

    A flat map gives all zeros.

    Parameters
    ----------
    importance : ndarray, shape (mb_h, mb_w)
        Any real values; higher = more important.
    strength : float
        QP units per standard deviation of importance (>= 0).
    clamp : float
        Largest absolute offset in QP (> 0).
    zero_mean : bool
        Re-centre the clamped offsets to mean zero (when ``anchor`` is None).
    anchor : {None, "mean", "attended"}
        Which weighted mean of the offsets is made zero (see above).
    sharpness : float
        Exponent of the attended weights; larger puts the anchor nearer the
        most important blocks, so more of the frame gets positive offsets.
    min_mean : float
        Least mean of the attended offsets (QP), weighted by ``cost``.
    cost : ndarray, optional
        Per-block coding cost, same shape as ``importance``, positive.

    Returns
    -------
    ndarray, shape (mb_h, mb_w), float32
        Non-increasing in importance within one frame.
    """
    imp = np.asarray(importance, dtype=np.float64)
    if imp.ndim != 2 or imp.size == 0:
        raise ValueError(f"expected a non-empty 2-D importance map, got shape {imp.shape}")
    if not np.all(np.isfinite(imp)):
        raise ValueError("importance map contains NaN or infinity")
    if strength < 0 or not np.isfinite(strength):
        raise ValueError(f"strength must be >= 0, got {strength}")
    if clamp <= 0:
        raise ValueError(f"clamp must be > 0, got {clamp}")
    std = imp.std()
    if std < 1e-9 or strength == 0:
        return np.zeros(imp.shape, dtype=np.float32)
    if anchor is None:
        anchor = "mean" if zero_mean else "none"
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, got {anchor!r}")
    off = np.clip(-strength * (imp - imp.mean()) / std, -clamp, clamp)
    if anchor == "none":
        return off.astype(np.float32)
    weights = attended_weights(imp, sharpness) if anchor == "attended" else None
    # Shifting by a constant and clipping both keep the order, so the map
    # stays monotone; a few rounds converge to a zero weighted mean within the clamp.
    for _ in range(12):
        mean = np.average(off, weights=weights)
        if abs(mean) < 1e-6:
            break
        off = np.clip(off - mean, -clamp, clamp)
    if anchor == "attended":
        for _ in range(12):
            short = min_mean - np.average(off, weights=cost)
            if short < 1e-6 or off.min() >= clamp:
                break
            off = np.clip(off + short, -clamp, clamp)
    return off.astype(np.float32)


def attended_weights(importance: np.ndarray, sharpness: float = ANCHOR_SHARPNESS) -> np.ndarray:
    """Where the frame is looked at, as weights: ``((imp - min) / (max - min)) ** sharpness``.

    The anchor of the ``attended`` budget: offsets are shifted so that their
    mean under these weights is zero. A sharpness of 1 weights blocks by their
    importance; larger values concentrate the weight on the peaks (and
    x264's own adaptive quantisation already spends on textured blocks,
    which the salient ones often are, so a broad anchor overspends: FACTS.md).

    Parameters
    ----------
    importance : ndarray
        Per-macroblock importance, not flat.
    sharpness : float
        Exponent, >= 0 (0 = uniform weights).

    Returns
    -------
    ndarray of float64, same shape, values in [0, 1] with maximum 1.
    """
    if not sharpness >= 0:
        raise ValueError(f"sharpness must be >= 0, got {sharpness}")
    imp = np.asarray(importance, dtype=np.float64)
    lo, hi = float(imp.min()), float(imp.max())
    if hi - lo < 1e-12:
        return np.ones(imp.shape)
    return ((imp - lo) / (hi - lo)) ** sharpness


def quantize_offsets(offsets: np.ndarray, step: float = 1.0) -> np.ndarray:
    """Round offsets to multiples of ``step`` QP (fewer distinct values -> fewer regions)."""
    return (np.rint(np.asarray(offsets) / step) * step).astype(np.float32)


class OffsetSmoother:
    """Exponential smoothing of offset maps across frames, so offsets do not flicker.

    ``out = alpha * previous + (1 - alpha) * current``; :meth:`reset` (new video,
    scene cut) starts afresh from the next map.

    Parameters
    ----------
    alpha : float
        Weight of the past, in [0, 1). 0 disables smoothing.
    """

    def __init__(self, alpha: float = 0.6) -> None:
        if not 0 <= alpha < 1:
            raise ValueError(f"smoothing alpha must be in [0, 1), got {alpha}")
        self.alpha = alpha
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        self._state = None

    def update(self, offsets: np.ndarray) -> np.ndarray:
        cur = np.asarray(offsets, dtype=np.float32)
        if self._state is None or self._state.shape != cur.shape:
            self._state = cur.copy()
        else:
            self._state = self.alpha * self._state + (1 - self.alpha) * cur
        return self._state.copy()
