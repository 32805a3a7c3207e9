"""XPSNR: PSNR with each block's error weighted by the inverse of its visual activity.

The extended perceptually weighted PSNR of Helmrich et al. (ITU-T/JVET work;
"XPSNR: a low-complexity extension of the perceptually weighted PSNR for
versatile video coding", ICASSP 2020), as FFmpeg's ``xpsnr`` filter
(libavfilter/vf_xpsnr.c, FFmpeg 7.1+) computes it, re-implemented on numpy
planes so that it can also be saliency-weighted. Per frame:

1. The luma plane is cut into square blocks of side
   ``B = 4 round(32 sqrt(W H / (3840 x 2160)))`` (44 at 1280x720).
2. Each block's visual activity ``a`` is the mean absolute 3x3 high-pass of
   the *reference* (``12 o - 2 (4-neighbours) - diagonals``, frame-border
   pixels excluded; above 2048x1152 a 2x2-downsampled 4x4 kernel instead),
   plus twice the mean absolute temporal difference of the reference (first
   order, ``o_t - o_{t-1}``, below 32 fps; second order,
   ``o_t - 2 o_{t-1} + o_{t-2}``, from 32 fps). The frames before the first are
   zeros, as in FFmpeg. ``a`` is floored at ``2^(bitdepth - 6)`` (4 for 8-bit).
3. The block's weight is ``1 / a``; up to 640x480 the weights are
   "min-smoothed" across neighbouring blocks in FFmpeg's in-line order.
4. ``WSSE = round(sqrt(16 2^(2 bitdepth - 9) / sqrt(W H / 3840 / 2160))
   sum_k weight_k SSE_k)``, and ``XPSNR = 10 log10(W H L^2 / WSSE)``;
   chroma planes reuse the luma block weights on blocks of half the side.

``wxpsnr`` (salcodec's saliency-weighted form) multiplies each pixel's squared
error by an importance weight normalised to mean 1 before the block pooling:
``WSSE_s = c sum_k weight_k sum_{p in k} s_p e_p^2 / mean(s)``. Uniform ``s``
gives ``xpsnr`` (to the integer rounding of WSSE).

Validated against FFmpeg's filter run through PyAV in tests/test_xpsnr.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Frames at most this many pixels are min-smoothed (FFmpeg: 640 x 480).
SMOOTH_MAX_PIXELS = 640 * 480
#: Above this many pixels the high-pass runs on a 2x2-downsampled grid.
DOWNSAMPLE_ABOVE_PIXELS = 2048 * 1152


def block_size(width: int, height: int) -> int:
    """XPSNR block side for a ``width`` x ``height`` luma plane (0 when too small).

    Below 4 (frames under about 45x45) FFmpeg falls back to plain PSNR.
    """
    r = (width * height) / (3840.0 * 2160.0)
    return max(0, 4 * int(32.0 * math.sqrt(r) + 0.5))


def temporal_order(fps: float | None) -> int:
    """1 (first-order difference) below 32 frames per second, else 2.

    FFmpeg uses the integer part of the input link's frame rate; an unknown
    rate counts as 0.
    """
    return 2 if fps is not None and math.floor(fps + 1e-9) >= 32 else 1


def _act_scale(width: int, height: int, bit_depth: int) -> float:
    r = (width * height) / (3840.0 * 2160.0)
    return math.sqrt(16.0 * (1 << (2 * bit_depth - 9)) / math.sqrt(max(0.00001, r)))


def _check_plane(plane: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(plane)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{name}: expected a non-empty 2-D plane, got shape {a.shape}")
    if a.dtype.kind not in "ui":
        raise TypeError(f"{name}: expected integer code values, got {a.dtype}")
    return a


def block_weights(
    org: np.ndarray,
    prev1: np.ndarray | None = None,
    prev2: np.ndarray | None = None,
    *,
    fps: float | None = None,
    bit_depth: int = 8,
    reference: bool = False,
) -> np.ndarray:
    """Perceptual weight ``1 / activity`` of every XPSNR block of a reference luma plane.

    Parameters
    ----------
    org : ndarray, shape (H, W), integer
        Reference luma plane of the current frame.
    prev1, prev2 : ndarray, optional
        Reference luma planes one and two frames earlier (zeros when absent,
        as FFmpeg starts).
    fps : float, optional
        Frame rate; decides the temporal difference order (:func:`temporal_order`).
    bit_depth : int
        Bits per sample (8 for the video salcodec measures).
    reference : bool
        Use the plain-numpy implementation instead of the numba kernel.

    Returns
    -------
    ndarray, shape (ceil(H / B), ceil(W / B)), float64
        Block weights after FFmpeg's min-smoothing (frames up to 640x480).
    """
    _, act = _blocks(org, org, prev1, prev2, fps, bit_depth, reference)
    return _smooth(1.0 / np.sqrt(act), org.shape, reference)


def _blocks(org, rec, prev1, prev2, fps, bit_depth, reference):
    org = _check_plane(org, "reference")
    rec = _check_plane(rec, "distorted")
    if rec.shape != org.shape:
        raise ValueError(f"planes differ in shape: {org.shape} vs {rec.shape}")
    h, w = org.shape
    b = block_size(w, h)
    if b < 4:
        raise ValueError(f"a {w}x{h} plane is too small for XPSNR blocks")
    zeros = None
    if prev1 is None or prev2 is None:
        zeros = np.zeros_like(org)
    m1 = zeros if prev1 is None else _check_plane(prev1, "previous frame")
    m2 = zeros if prev2 is None else _check_plane(prev2, "frame before previous")
    if m1.shape != org.shape or m2.shape != org.shape:
        raise ValueError("previous frames must have the reference plane's shape")
    b_val = 2 if w * h > DOWNSAMPLE_ABOVE_PIXELS else 1
    if b_val > 1 and (w % 2 or h % 2):
        raise ValueError(f"XPSNR above 2048x1152 needs even plane sizes, got {w}x{h}")
    order = temporal_order(fps)
    act_min = float(1 << (bit_depth - 6))
    from . import _kernels  # numba: loaded on first use, not by importing the package

    fn = _blocks_reference if reference else _kernels.xpsnr_luma_blocks
    return fn(org, rec, m1, m2, b, b_val, order, act_min)


def _smooth(weights: np.ndarray, shape: tuple[int, int], reference: bool) -> np.ndarray:
    h, w = shape
    if w * h > SMOOTH_MAX_PIXELS:
        return weights
    flat = np.ascontiguousarray(weights, dtype=np.float64).ravel().copy()
    b = block_size(w, h)
    if reference:
        _min_smooth_reference(flat, b, w, h)
    else:
        from . import _kernels

        _kernels.xpsnr_min_smooth(flat, b, w, h)
    return flat.reshape(weights.shape)


def _block_sum(values: np.ndarray, b: int) -> np.ndarray:
    """Sums over b x b blocks (partial blocks at the right and bottom edges)."""
    h, w = values.shape
    nby, nbx = -(-h // b), -(-w // b)
    padded = np.zeros((nby * b, nbx * b), dtype=values.dtype)
    padded[:h, :w] = values
    return padded.reshape(nby, b, nbx, b).sum(axis=(1, 3))


def _blocks_reference(org, rec, m1, m2, b, b_val, order, act_min):
    """Plain-numpy :func:`salcodec.quality._kernels.xpsnr_luma_blocks` (vectorised)."""
    o = org.astype(np.int64)
    h, w = o.shape
    d = o - rec.astype(np.int64)
    sse = _block_sum(d * d, b).astype(np.float64)
    nby, nbx = sse.shape
    ones = np.ones((h, w), dtype=np.int64)
    # Spatial activity at the pixels (or 2x2 cells) FFmpeg visits: inside the
    # frame by b_val pixels, summed per block; counts in full pixels as FFmpeg.
    hp = np.zeros((h, w), dtype=np.int64)
    if b_val == 1:
        c = o[1:-1, 1:-1]
        f = (12 * c - 2 * (o[1:-1, :-2] + o[1:-1, 2:] + o[:-2, 1:-1] + o[2:, 1:-1])
             - (o[:-2, :-2] + o[:-2, 2:] + o[2:, :-2] + o[2:, 2:]))
        hp[1:-1, 1:-1] = np.abs(f)
    else:
        ny, nx = len(range(2, h - 2, 2)), len(range(2, w - 2, 2))

        def p(dy, dx):  # the pixel (dy, dx) away from every even position inside
            return o[2 + dy : 2 + dy + 2 * ny : 2, 2 + dx : 2 + dx + 2 * nx : 2]

        f = (12 * (p(0, 0) + p(0, 1) + p(1, 0) + p(1, 1))
             - 3 * (p(-1, 0) + p(-1, 1) + p(2, 0) + p(2, 1))
             - 3 * (p(0, -1) + p(0, 2) + p(1, -1) + p(1, 2))
             - 2 * (p(-1, -1) + p(-1, 2) + p(2, -1) + p(2, 2))
             - (p(-2, -1) + p(-2, 0) + p(-2, 1) + p(-2, 2) + p(3, -1) + p(3, 0) + p(3, 1)
                + p(3, 2) + p(-1, -2) + p(0, -2) + p(1, -2) + p(2, -2) + p(-1, 3) + p(0, 3)
                + p(1, 3) + p(2, 3)))
        hp[2 : 2 + 2 * ny : 2, 2 : 2 + 2 * nx : 2] = np.abs(f)
    inner = np.zeros((h, w), dtype=np.int64)
    inner[b_val : h - b_val, b_val : w - b_val] = 1
    sa = _block_sum(hp, b)
    count = _block_sum(inner, b)  # (w_act - x_act)(h_act - y_act) of FFmpeg
    if b_val > 1:
        # FFmpeg drops the spatial activity of blocks whose w_act is at most 12.
        widths = np.minimum(b, w - b * np.arange(nbx))
        widths[-1] -= b_val
        sa[:, widths <= 12] = 0
    m1 = m1.astype(np.int64)
    m2 = m2.astype(np.int64)
    t = o - m1 if order == 1 else o - 2 * m1 + m2
    if b_val > 1:  # differences of 2x2 sums
        t = t.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
        ta = _block_sum(np.abs(t), b // 2)
    else:
        ta = _block_sum(np.abs(t), b)
    area = _block_sum(ones, b).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ms = sa / count.astype(np.float64) + (2 * ta) / area
    ms = np.maximum(ms, act_min)
    act = ms * ms
    act[count == 0] = 1.0  # blocks too small for the high-pass keep weight 1
    return sse, act


def _min_smooth_reference(weights: np.ndarray, b: int, w: int, h: int) -> None:
    """Plain-Python :func:`salcodec.quality._kernels.xpsnr_min_smooth` (in place)."""
    w_blk = (w + b - 1) // b
    idx = 0
    for y in range(0, h, b):
        for x in range(0, w, b):
            if x == 0:
                prev = weights[idx - 2] if idx > 1 else 0.0
            else:
                prev = max(weights[idx - 2], weights[idx]) if x > b else weights[idx]
            if idx > w_blk:
                prev = max(prev, weights[idx - 1 - w_blk])
            if idx > 0 and weights[idx - 1] > prev:
                weights[idx - 1] = prev
            if x + b >= w and y + b >= h and idx > w_blk:
                prev = max(weights[idx - 1], weights[idx - w_blk])
                if weights[idx] > prev:
                    weights[idx] = prev
            idx += 1


def _to_db(wsse: float, width: int, height: int, bit_depth: int) -> float:
    """FFmpeg's per-frame value: WSSE rounded to an integer, then the PSNR formula."""
    wsse64 = 0 if wsse <= 0 else math.floor(wsse + 0.5)
    if wsse64 == 0:
        return math.inf
    peak = ((1 << bit_depth) - 1) ** 2
    return 10.0 * math.log10(width * height * peak / wsse64)


def _chroma_wsse(org: np.ndarray, rec: np.ndarray, weights: np.ndarray, b: int,
                 luma_shape: tuple[int, int]) -> float:
    h, w = luma_shape
    hp, wp = org.shape
    bx, by = (b * wp) // w, (b * hp) // h
    d = org.astype(np.int64) - rec.astype(np.int64)
    d2 = d * d
    if bx == by and -(-hp // by) == weights.shape[0] and -(-wp // bx) == weights.shape[1]:
        return float(np.sum(_block_sum(d2, bx) * weights))  # the grids line up (4:2:0)
    # Otherwise walk the chroma blocks in FFmpeg's order over the flat weights.
    flat = weights.ravel()
    total, idx = 0.0, 0
    for y in range(0, hp, by):
        for x in range(0, wp, bx):
            total += float(d2[y : y + by, x : x + bx].sum()) * flat[idx]
            idx += 1
    return total


def xpsnr_planes(
    ref_planes: Sequence[np.ndarray],
    dist_planes: Sequence[np.ndarray],
    prev1: np.ndarray | None = None,
    prev2: np.ndarray | None = None,
    *,
    fps: float | None = None,
    bit_depth: int = 8,
    saliency: np.ndarray | None = None,
    reference: bool = False,
) -> dict[str, float]:
    """XPSNR of one frame, per plane, and optionally its saliency-weighted luma form.

    Parameters
    ----------
    ref_planes, dist_planes : sequence of ndarray
        Y (and optionally U, V) planes, integer code values.
    prev1, prev2 : ndarray, optional
        The reference's luma one and two frames earlier (None at the start).
    fps : float, optional
        Frame rate (temporal difference order, see :func:`temporal_order`).
    bit_depth : int
        Bits per sample.
    saliency : ndarray, shape (H, W), optional
        Non-negative importance map with a positive sum: adds ``"wxpsnr"``.
    reference : bool
        Use the plain-numpy implementation (for tests).

    Returns
    -------
    dict
        ``"y"`` (and ``"u"``, ``"v"`` when given chroma; ``"wxpsnr"`` with
        ``saliency``) in dB, ``inf`` for identical planes; ``"wsse_y"``, the
        integer weighted SSE (for FFmpeg's pooling, :func:`pool_xpsnr`).
    """
    y_ref, y_dist = ref_planes[0], dist_planes[0]
    h, w = np.shape(y_ref)
    b = block_size(w, h)
    peak = ((1 << bit_depth) - 1) ** 2
    if b < 4:  # FFmpeg: plain PSNR for tiny frames
        out = {}
        for name, r, d in zip("yuv", ref_planes, dist_planes, strict=False):
            sse = float(np.sum((np.asarray(r, np.int64) - np.asarray(d, np.int64)) ** 2))
            out[name] = math.inf if sse == 0 else 10 * math.log10(r.size * peak / sse)
        out["wsse_y"] = float(np.sum((np.asarray(y_ref, np.int64)
                                      - np.asarray(y_dist, np.int64)) ** 2))
        if saliency is not None:
            from .metrics import weighted_psnr

            out["wxpsnr"] = weighted_psnr(y_ref, y_dist, saliency, data_range=peak**0.5)
        return out
    sse, act = _blocks(y_ref, y_dist, prev1, prev2, fps, bit_depth, reference)
    weights = _smooth(1.0 / np.sqrt(act), (h, w), reference)
    return _pool_blocks(ref_planes, dist_planes, weights, sse, bit_depth, saliency)


def xpsnr_with_weights(
    ref_planes: Sequence[np.ndarray],
    dist_planes: Sequence[np.ndarray],
    weights: np.ndarray,
    *,
    bit_depth: int = 8,
    saliency: np.ndarray | None = None,
) -> dict[str, float]:
    """:func:`xpsnr_planes` with the reference's block weights already known.

    The weights depend on the reference alone (:func:`block_weights`), so
    scoring several encodes of the same frames needs them once; the result
    is identical to :func:`xpsnr_planes`.
    """
    y_ref, y_dist = ref_planes[0], dist_planes[0]
    h, w = np.shape(y_ref)
    b = block_size(w, h)
    if b < 4 or weights.shape != (-(-h // b), -(-w // b)):
        raise ValueError(f"weights of shape {weights.shape} do not fit a {w}x{h} plane")
    d = np.asarray(y_ref, np.int64) - np.asarray(y_dist, np.int64)
    sse = _block_sum(d * d, b).astype(np.float64)
    return _pool_blocks(ref_planes, dist_planes, weights, sse, bit_depth, saliency)


def _pool_blocks(ref_planes, dist_planes, weights, sse, bit_depth, saliency) -> dict[str, float]:
    y_ref, y_dist = ref_planes[0], dist_planes[0]
    h, w = np.shape(y_ref)
    b = block_size(w, h)
    scale = _act_scale(w, h, bit_depth)
    wsse_y = float(np.sum(sse * weights)) * scale
    out = {"y": _to_db(wsse_y, w, h, bit_depth), "wsse_y": float(math.floor(wsse_y + 0.5))}
    for name, r, d in zip("uv", ref_planes[1:], dist_planes[1:], strict=False):
        hp, wp = np.shape(r)
        out[name] = _to_db(_chroma_wsse(r, d, weights, b, (h, w)) * scale, wp, hp, bit_depth)
    if saliency is not None:
        s = np.asarray(saliency, dtype=np.float64)
        if s.shape != (h, w):
            raise ValueError(f"saliency map shape {s.shape} does not match plane shape {(h, w)}")
        if not np.all(np.isfinite(s)) or (s < 0).any() or s.sum() <= 0:
            raise ValueError("saliency weights must be finite, non-negative, with a positive sum")
        d = np.asarray(y_ref, np.float64) - np.asarray(y_dist, np.float64)
        ssse = _block_sum(s * d * d, b) / s.mean()
        out["wxpsnr"] = _to_db(float(np.sum(ssse * weights)) * scale, w, h, bit_depth)
    return out


def pool_xpsnr(wsse: Sequence[float], width: int, height: int, bit_depth: int = 8) -> float:
    """FFmpeg's overall XPSNR of a sequence: PSNR of the squared mean root WSSE.

    ``10 log10(W H L^2 / mean(sqrt(WSSE_t))^2)`` over the frames' integer
    weighted SSEs (the ``wsse_y`` of :func:`xpsnr_planes`); this is the value
    FFmpeg prints at the end (``XPSNR y: ...``), not the mean of per-frame dB.
    ``inf`` when every frame is identical.
    """
    roots = np.sqrt(np.asarray(wsse, dtype=np.float64))
    if roots.size == 0:
        return math.nan
    if roots.sum() < roots.size:  # FFmpeg: then the mean of the per-frame dB values
        peak = ((1 << bit_depth) - 1) ** 2
        with np.errstate(divide="ignore"):
            db = 10 * np.log10(width * height * peak / (roots * roots))
        return float(np.mean(db))
    avg = roots.mean()
    peak = ((1 << bit_depth) - 1) ** 2
    return 10.0 * math.log10(width * height * peak / (avg * avg))


class XPSNR:
    """Running XPSNR over a sequence: remembers the reference's previous two luma planes.

    Parameters
    ----------
    fps : float, optional
        Frame rate of the reference (temporal difference order).
    bit_depth : int
        Bits per sample.
    reference : bool
        Use the plain-numpy implementation (for tests).

    Examples
    --------
    >>> meter = XPSNR(fps=25)                               # doctest: +SKIP
    >>> values = [meter(ref, dist) for ref, dist in pairs]  # doctest: +SKIP
    """

    def __init__(self, fps: float | None = None, bit_depth: int = 8, reference: bool = False):
        self.fps = fps
        self.bit_depth = bit_depth
        self.reference = reference
        self._prev1: np.ndarray | None = None
        self._prev2: np.ndarray | None = None
        self.wsse: list[float] = []

    def __call__(self, ref_planes: Sequence[np.ndarray], dist_planes: Sequence[np.ndarray],
                 saliency: np.ndarray | None = None) -> dict[str, float]:
        """Values of the next frame pair (see :func:`xpsnr_planes`)."""
        out = xpsnr_planes(ref_planes, dist_planes, self._prev1, self._prev2, fps=self.fps,
                           bit_depth=self.bit_depth, saliency=saliency,
                           reference=self.reference)
        # Copies: the caller's frame buffers may be reused by the decoder.
        self._prev2, self._prev1 = self._prev1, np.array(ref_planes[0], copy=True)
        self.wsse.append(out["wsse_y"])
        return out
