"""Boolean map saliency, BMS (Zhang & Sclaroff, ICCV 2013).

Figures are *surrounded*: a region that does not touch the frame border
after thresholding is likely an object someone looks at. Each Lab channel
is thresholded at ``n_thresholds`` evenly spaced levels; for every boolean
map and its complement, the pixels connected (4-neighbourhood) to the border
are removed, what remains is dilated by one pixel and L2-normalised, and all
these attention maps are summed, then blurred.

The flood fill is OpenCV's (:func:`bms_attention`): BMS is part of the
default model, and this keeps numba off the default encode path. The
reference (:func:`bms_attention_reference`) finds the border-touching parts
with OpenCV's connected-component labelling instead, an independent
algorithm; the former numba kernel lives on in ``tests/_bms_numba.py``,
which the tests hold this module's result to, bit for bit.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from .base import SaliencyModel, validate_rgb

#: 3x3 structuring element of the one-pixel dilation.
_CROSS = np.ones((3, 3), np.uint8)

_lab_tables: threading.Thread | None = None
_lab_lock = threading.Lock()


def prepare_lab() -> None:
    """Have OpenCV build its 8-bit RGB -> Lab tables now, in a background thread.

    OpenCV fills them on a process's first 8-bit Lab conversion: about 90 ms,
    which in an encode lands on the first frame, whose offsets the encoder
    waits for. Started when a model is built, the tables are made while the
    networks load and the encoder starts; :func:`bms_saliency` waits for them
    (OpenCV's table set-up is not documented as safe to race). Not a daemon
    thread: a process that fails at once (a corrupt input) must not exit
    while OpenCV is still inside the conversion, which aborted it (SIGABRT in
    5 of 12 runs of a fuzz case; Python joins the thread before exiting).
    """
    global _lab_tables
    with _lab_lock:
        if _lab_tables is None:
            _lab_tables = threading.Thread(
                target=cv2.cvtColor, args=(np.zeros((1, 1, 3), np.uint8), cv2.COLOR_RGB2Lab),
                name="salcodec-lab-tables")
            _lab_tables.start()


def bms_attention(channels: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Summed attention maps of thresholded channels (before the final blur).

    All boolean maps and their complements are laid out as tiles of one
    uint8 sheet, each framed by a one-pixel border of ones that is connected
    to the sheet's edge; one 4-connected ``cv2.floodFill`` from the corner
    then clears, in every tile at once, the pixels connected to that tile's
    border, and one ``cv2.dilate`` dilates what stays (the cleared frames
    keep the tiles apart). Plain OpenCV and numpy: no numba on the default
    model's path (numba's import and code cost about 120 MiB and up to a
    CPU-second per process). The sums are accumulated in float32 in the
    order of the former numba kernel, so the result is the same bit for bit
    (``tests/_bms_numba.py``).

    Parameters
    ----------
    channels : ndarray, shape (C, H, W), float32
        Feature channels (e.g. Lab).
    thresholds : ndarray, shape (C, T), float32
        Thresholds per channel; a boolean map is ``channel > threshold``.

    Returns
    -------
    ndarray, shape (H, W), float32
    """
    channels = np.asarray(channels, dtype=np.float32)
    thresholds = np.asarray(thresholds, dtype=np.float32)
    n_ch, h, w = channels.shape
    n_t = thresholds.shape[1]
    n = 2 * n_ch * n_t
    # Tile k = (channel, threshold, map or complement) sits below a row of ones,
    # between columns of ones; a last row of ones closes the sheet.
    sheet = np.ones((n * (h + 1) + 1, w + 2), np.uint8)
    tiles = sheet[:-1].reshape(n_ch, n_t, 2, h + 1, w + 2)[..., 1:, 1:-1]
    x, th = channels[:, None], thresholds[:, :, None, None]
    np.greater(x, th, out=tiles[:, :, 0], casting="unsafe")
    np.less_equal(x, th, out=tiles[:, :, 1], casting="unsafe")
    cv2.floodFill(sheet, None, (0, 0), 0, flags=4)
    sheet = cv2.dilate(sheet, _CROSS)
    dilated = sheet[:-1].reshape(n, h + 1, w + 2)[:, 1:, 1:-1]
    # OpenCV counts a tile's ones in a fraction of numpy's widening sum.
    count = np.array([cv2.countNonZero(tile) for tile in dilated], np.float64)
    scale = np.zeros(n, np.float32)  # 1 / L2 norm of each 0/1 map; empty maps add 0
    np.divide(1.0, np.sqrt(count), out=scale, where=count > 0, casting="unsafe")
    # A reduction over the first axis adds the tiles one after another, in order.
    return np.add.reduce(dilated * scale[:, None, None], axis=0)


def bms_attention_reference(channels: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Reference of :func:`bms_attention` by connected-component labelling (for tests)."""
    channels = np.asarray(channels, dtype=np.float32)
    acc = np.zeros(channels.shape[1:], dtype=np.float64)
    for c, ch in enumerate(channels):
        for th in thresholds[c]:
            b = (ch > th).astype(np.uint8)
            for bm in (b, 1 - b):
                _, labels = cv2.connectedComponents(bm, connectivity=4)
                border = np.unique(np.concatenate(
                    [labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
                surrounded = (bm > 0) & ~np.isin(labels, border[border > 0])
                a = cv2.dilate(surrounded.astype(np.uint8), np.ones((3, 3), np.uint8),
                               borderType=cv2.BORDER_CONSTANT, borderValue=0)
                norm = np.sqrt(a.sum())
                if norm > 0:
                    acc += a / norm
    return acc.astype(np.float32)


def bms_saliency(image: np.ndarray, n_thresholds: int = 6, blur_sigma: float = 0.03) -> np.ndarray:
    """BMS saliency of an RGB uint8 image: raw float32 (H, W) map.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
    n_thresholds : int
        Thresholds per Lab channel, evenly spaced strictly inside its range.
    blur_sigma : float
        Gaussian blur of the summed attention, as a fraction of the long side.
    """
    image = validate_rgb(image)
    if n_thresholds < 1:
        raise ValueError(f"n_thresholds must be >= 1, got {n_thresholds}")
    if _lab_tables is not None:
        _lab_tables.join()
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    channels = np.ascontiguousarray(lab.transpose(2, 0, 1), dtype=np.float32)
    lo = channels.reshape(3, -1).min(axis=1)
    hi = channels.reshape(3, -1).max(axis=1)
    steps = np.arange(1, n_thresholds + 1, dtype=np.float32) / (n_thresholds + 1)
    thresholds = (lo[:, None] + (hi - lo)[:, None] * steps[None, :]).astype(np.float32)
    acc = bms_attention(channels, thresholds)
    return cv2.GaussianBlur(acc, (0, 0), max(blur_sigma * max(image.shape[:2]), 0.5))


class BMSModel(SaliencyModel):
    """Boolean map saliency (Zhang & Sclaroff 2013): surrounded regions draw the eye."""

    name = "bms"

    def __init__(self, analysis_side: int = 128, n_thresholds: int = 6) -> None:
        self.analysis_side = analysis_side
        self.n_thresholds = n_thresholds
        prepare_lab()

    def compute(self, image: np.ndarray) -> np.ndarray:
        return bms_saliency(image, self.n_thresholds)
