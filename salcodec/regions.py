"""Per-macroblock QP offsets -> rectangles of equal offset -> ROI records.

Pure computation (a numba kernel that releases the GIL), run in the encoder's
saliency worker thread; :mod:`salcodec.roi` then only copies the bytes onto
the frame.
"""

from __future__ import annotations

import numba
import numpy as np

from .roi import MB_SIZE, roi_records


@numba.njit(cache=True, nogil=True)
def _greedy_rectangles(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # q: int32 offsets in quarter-QP. In raster order, grow each uncovered
    # non-zero block right, then down while the whole span matches.
    mb_h, mb_w = q.shape
    done = np.zeros((mb_h, mb_w), dtype=np.bool_)
    rects = np.empty((mb_h * mb_w, 4), dtype=np.int32)
    vals = np.empty(mb_h * mb_w, dtype=np.int32)
    n = 0
    for y in range(mb_h):
        for x in range(mb_w):
            v = q[y, x]
            if v == 0 or done[y, x]:
                continue
            x1 = x + 1
            while x1 < mb_w and q[y, x1] == v and not done[y, x1]:
                x1 += 1
            y1 = y + 1
            while y1 < mb_h:
                ok = True
                for xx in range(x, x1):
                    if q[y1, xx] != v or done[y1, xx]:
                        ok = False
                        break
                if not ok:
                    break
                y1 += 1
            done[y:y1, x:x1] = True
            rects[n, 0], rects[n, 1], rects[n, 2], rects[n, 3] = y, y1, x, x1
            vals[n] = v
            n += 1
    return rects[:n], vals[:n]


def offsets_to_regions(offsets: np.ndarray, width: int, height: int,
                       block: int = MB_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Cover a per-block offset map with non-overlapping rectangles of equal offset.

    Greedy in raster order: each uncovered block grows right along its run,
    then down while the whole span keeps the same offset. Zero offsets need no
    region and are left out. Offsets are compared at 1/4 QP, the resolution of
    the records.

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
    q = np.ascontiguousarray(np.rint(np.asarray(offsets, dtype=np.float64) * 4), dtype=np.int32)
    if q.ndim != 2:
        raise ValueError(f"expected a 2-D offset map, got shape {q.shape}")
    cells, vals = _greedy_rectangles(q)
    rects = cells * block
    np.minimum(rects[:, 1], height, out=rects[:, 1])
    np.minimum(rects[:, 3], width, out=rects[:, 3])
    return rects, vals / 4.0


def roi_payload(offsets: np.ndarray, width: int, height: int, block: int = MB_SIZE) -> bytes:
    """The ROI side-data bytes for a per-macroblock offset map (b"" when all zero).

    Pure computation, safe to run in a worker thread; :func:`attach_payload`
    then only copies the bytes onto the frame.
    """
    expect = (-(-height // block), -(-width // block))
    if np.shape(offsets) != expect:
        raise ValueError(f"offset map shape {np.shape(offsets)} does not match frame grid {expect}")
    rects, values = offsets_to_regions(offsets, width, height, block)
    return roi_records(rects, values) if len(rects) else b""
