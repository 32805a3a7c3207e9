"""Per-macroblock QP offsets -> rectangles of equal offset -> ROI records.

Pure numpy, run in the encoder's saliency worker thread; :mod:`salcodec.codecs.roi`
(the ctypes bridge, which imports nothing from here) then only copies the
bytes onto the frame. Plain numpy rather than a numba kernel: it is as fast at
these sizes (about 0.1 ms for a 1080p grid) and keeps numba's start-up off
the path of models that do not need it.
"""

from __future__ import annotations

from collections.abc import Callable

import av
import numpy as np

from .codecs.roi import X264_QP_RANGE, attach_payload, roi_records
from .mbmap import MB_SIZE, macroblock_grid


def offsets_to_regions(offsets: np.ndarray, width: int, height: int,
                       block: int = MB_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Cover a per-block offset map with non-overlapping rectangles of equal offset.

    Each row is cut into runs of equal offset; a run continues the rectangle
    above it when the row above has a run with the same columns and offset.
    Zero offsets need no region and are left out. Offsets are compared at
    1/4 QP, the resolution of the records. Rectangles come in raster order of
    their top-left block.

    Parameters
    ----------
    offsets : ndarray, shape (mb_h, mb_w)
        Per-macroblock QP offsets.
    width, height : int
        Frame size in pixels; regions are clipped to it.
    block : int
        Block size in pixels (16 for H.264 macroblocks).

    Returns
    -------
    rects : ndarray, shape (N, 4), int32
        ``top, bottom, left, right`` in pixels.
    values : ndarray, shape (N,), float64
        Offset of each rectangle (QP).
    """
    q = np.rint(np.asarray(offsets, dtype=np.float64) * 4).astype(np.int32)
    if q.ndim != 2 or q.size == 0:
        raise ValueError(f"expected a non-empty 2-D offset map, got shape {q.shape}")
    mb_h, mb_w = q.shape
    # Run starts: first column, or a change of value from the left neighbour.
    start = np.ones_like(q, dtype=bool)
    start[:, 1:] = q[:, 1:] != q[:, :-1]
    # End (exclusive column) of the run each start opens: the next start in its row.
    col = np.broadcast_to(np.arange(mb_w), q.shape)
    nxt = np.where(start, col, mb_w)
    nxt = np.minimum.accumulate(nxt[:, ::-1], axis=1)[:, ::-1]  # first start at or after x
    end = np.full_like(q, mb_w)
    end[:, :-1] = nxt[:, 1:]
    # A run continues the one above when that row has the same run (start, end, value).
    cont = np.zeros_like(start)
    cont[1:] = start[1:] & start[:-1] & (end[1:] == end[:-1]) & (q[1:] == q[:-1])
    head = start & ~cont & (q != 0)
    # Height of each rectangle: rows until the first row (below) not continuing it.
    rows = np.broadcast_to(np.arange(mb_h)[:, None], q.shape)
    brk = np.where(cont, mb_h, rows)  # rows that do not continue
    below = np.full_like(q, mb_h)
    below[:-1] = np.minimum.accumulate(brk[::-1], axis=0)[::-1][1:]
    ys, xs = np.nonzero(head)
    rects = np.stack([ys, below[ys, xs], xs, end[ys, xs]], axis=1).astype(np.int32) * block
    np.minimum(rects[:, 1], height, out=rects[:, 1])
    np.minimum(rects[:, 3], width, out=rects[:, 3])
    return rects, q[ys, xs] / 4.0


def limit_levels(offsets: np.ndarray, levels: int) -> np.ndarray:
    """Whole-step offsets with at most ``levels`` distinct non-zero values.

    For encoders with few quantiser segments (libvpx-vp9 keeps 7 beside the
    zero one and skips the rest): when there are more, the levels are shared
    between the negative and the positive offsets by their block counts (at
    least one each where both occur), each sign's levels are spread over the
    quantiles of its own offsets, and every offset moves to the nearest level
    of its own sign. So the order of blocks by offset is kept, no offset
    changes sign (a block asked to lose quality never gains it, nor the
    reverse), and zero stays zero.
    """
    q = np.rint(np.asarray(offsets, dtype=np.float64))
    if len(np.unique(q[q != 0])) <= levels:
        return q
    neg, pos = q[q < 0], q[q > 0]
    d_neg, d_pos = len(np.unique(neg)), len(np.unique(pos))
    if levels < (d_neg > 0) + (d_pos > 0):
        raise ValueError(f"{levels} level(s) cannot keep both signs of the offsets")
    n_pos = 0
    if d_pos:
        n_pos = round(levels * len(pos) / (len(pos) + len(neg)))
        n_pos = max(1, min(n_pos, levels - (d_neg > 0), d_pos))
    n_neg = min(levels - n_pos, d_neg)
    n_pos = min(levels - n_neg, d_pos)  # levels the negatives cannot use
    out = np.zeros_like(q)
    for side, n in ((q < 0, n_neg), (q > 0, n_pos)):
        if not n:
            continue
        # Quantiles of whole numbers of one sign, rounded, stay whole and of that sign.
        at = np.linspace(0, 1, n) if n > 1 else [0.5]  # one level: the median
        reps = np.unique(np.rint(np.quantile(q[side], at)))
        out[side] = reps[np.abs(q[side][:, None] - reps).argmin(axis=1)]
    return out


def roi_payload(offsets: np.ndarray, width: int, height: int, block: int = MB_SIZE, *,
                qp_range: int = X264_QP_RANGE, levels: int | None = None,
                truncates: bool = False) -> bytes:
    """The ROI side-data bytes for a per-macroblock offset map (b"" when all zero).

    Pure computation, safe to run in a worker thread;
    :func:`salcodec.codecs.roi.attach_payload` then only copies the bytes onto the frame.
    ``qp_range``, ``levels`` and ``truncates`` describe the encoder (see
    :class:`salcodec.codecs.Codec` and :func:`payload_for`).
    """
    expect = macroblock_grid(width, height, block)
    if np.shape(offsets) != expect:
        raise ValueError(f"offset map shape {np.shape(offsets)} does not match frame grid {expect}")
    if levels is not None:
        offsets = limit_levels(offsets, levels)
    rects, values = offsets_to_regions(offsets, width, height, block)
    return roi_records(rects, values, qp_range, truncates) if len(rects) else b""


def payload_for(codec: str, pix_fmt: str = "yuv420p") -> Callable[..., bytes]:
    """``roi_payload`` bound to an encoder's scale and limits: ``(offsets, w, h) -> bytes``.

    With a level limit (libvpx-vp9) the records carry :func:`limit_levels` of
    the offsets, not the offsets themselves (what
    :class:`salcodec.encoder.SaliencyEncoder` records for such an encoder).
    """
    from functools import partial

    from .codecs import get_codec

    spec = get_codec(codec)
    return partial(roi_payload, qp_range=spec.qp_range(pix_fmt), levels=spec.levels,
                   truncates=spec.truncates)


def attach_roi(frame: av.VideoFrame, offsets: np.ndarray, block: int = MB_SIZE,
               codec: str = "libx264") -> int:
    """Attach a per-macroblock QP-offset map to ``frame`` as ROI side data.

    Any ROI side data already on the frame is replaced. Returns the number of
    regions written (0 for an all-zero map, which attaches nothing).

    Parameters
    ----------
    frame : av.VideoFrame
        A yuv420p (or yuv420p10le) frame that will be passed to the encoder as
        is (a frame that PyAV has to reformat loses its side data). Do not use
        its ``side_data`` property before this call: PyAV caches that view.
    offsets : ndarray, shape (ceil(H/16), ceil(W/16))
        QP offsets per macroblock; negative = better quality.
    block : int
        Block size in pixels.
    codec : str
        The encoder the frame goes to (its scale and limits).

    Raises
    ------
    ValueError
        The frame is not 4:2:0 (:data:`salcodec.codecs.PIX_FMTS`; checked by
        :func:`salcodec.codecs.roi.avframe_pointer`).
    """
    payload = payload_for(codec, frame.format.name)
    return attach_payload(frame, payload(offsets, frame.width, frame.height, block))
