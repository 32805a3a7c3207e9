"""Pool a saliency map onto the 16x16 macroblock grid of the coded frame."""

from __future__ import annotations

import functools

import numpy as np

MB_SIZE = 16


def macroblock_grid(width: int, height: int, block: int = MB_SIZE) -> tuple[int, int]:
    """Macroblock rows and columns of a frame: ``(ceil(H/16), ceil(W/16))``."""
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid frame size {width}x{height}")
    return -(-height // block), -(-width // block)


def pool_to_macroblocks(
    saliency: np.ndarray, width: int, height: int, block: int = MB_SIZE
) -> np.ndarray:
    """Mean saliency of every macroblock of a ``width`` x ``height`` frame.

    ``saliency`` covers the whole frame at any (analysis) resolution. Each of its
    pixels is assigned to the macroblock that contains its centre once mapped
    to frame coordinates, so partial edge blocks average only the picture they
    contain. A block that no analysis pixel falls in (a map coarser than the
    grid) takes the value at its centre.

    Parameters
    ----------
    saliency : ndarray, shape (h, w)
        Importance map, any float range.
    width, height : int
        Size of the coded frame in pixels.
    block : int
        Macroblock size (16 for H.264).

    Returns
    -------
    ndarray, shape (ceil(height/16), ceil(width/16)), float32
    """
    sal = np.asarray(saliency, dtype=np.float32)
    if sal.ndim != 2 or sal.size == 0:
        raise ValueError(f"expected a non-empty 2-D map, got shape {sal.shape}")
    h, w = sal.shape
    index, count, fill = _pooling_plan(h, w, width, height, block)
    mb_h, mb_w = macroblock_grid(width, height, block)
    total = np.bincount(index, weights=sal.ravel(), minlength=mb_h * mb_w)
    pooled = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    if fill is not None:  # blocks no pixel fell in take the value at their centre
        empty, source = fill
        pooled[empty] = sal.ravel()[source]
    return pooled.reshape(mb_h, mb_w).astype(np.float32)


def macroblock_activity(gray: np.ndarray, width: int, height: int) -> np.ndarray:
    """Texture of every macroblock: the variance of ``gray`` inside it, plus 1.

    ``gray`` covers the whole frame at any (analysis) resolution, like
    :func:`pool_to_macroblocks`. A proxy for what a block costs to code: flat
    blocks cost few bits whatever their QP, textured ones many, so offsets
    weighted by it say more about the bits than a plain mean does. (The
    standard deviation, tried first, let objects on flat backgrounds keep
    negative offsets: fixation set etto came out 14% larger than plain x264.)

    Returns
    -------
    ndarray, shape (ceil(height/16), ceil(width/16)), float32, values >= 1
    """
    g = np.asarray(gray, dtype=np.float32)
    mean = pool_to_macroblocks(g, width, height)
    square = pool_to_macroblocks(g * g, width, height)
    return (np.maximum(square - mean * mean, 0) + 1).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _pooling_plan(h: int, w: int, width: int, height: int, block: int):
    # The pixel -> block assignment depends only on the sizes: computed once per video.
    mb_h, mb_w = macroblock_grid(width, height, block)
    rows = np.minimum(((np.arange(h) + 0.5) * height / h) // block, mb_h - 1).astype(np.intp)
    cols = np.minimum(((np.arange(w) + 0.5) * width / w) // block, mb_w - 1).astype(np.intp)
    index = (rows[:, None] * mb_w + cols[None, :]).ravel()
    count = np.bincount(index, minlength=mb_h * mb_w).astype(np.float64)
    fill = None
    if not count.all():
        cy = np.minimum(((np.arange(mb_h) * block + block / 2) * h / height).astype(int), h - 1)
        cx = np.minimum(((np.arange(mb_w) * block + block / 2) * w / width).astype(int), w - 1)
        empty = np.flatnonzero(count == 0)
        fill = (empty, (cy[:, None] * w + cx[None, :]).ravel()[empty])
    return index, count, fill
