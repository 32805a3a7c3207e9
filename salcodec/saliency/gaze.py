"""The learned model: FastGaze, a pruned and distilled DeepGaze II.

FastGaze (Theis et al. 2018, "Faster gaze prediction with dense networks and
Fisher pruning", arXiv 1801.05787) predicts fixations with ten 3x3
convolutions, four 2x2 max-poolings and a four-layer 1x1 readout: 121,064
parameters. Twitter published it as ``bin/fastgaze.vxm`` in
``twitter-research/image-crop-analysis`` (Apache-2.0); salcodec ships it
converted to ONNX by ``scripts/convert_fastgaze.py``
(``salcodec/data/fastgaze.onnx``, provenance in the data folder's README)
and runs it with OpenCV's ONNX reader.

The network sees the frame shrunk to a long side of ``NET_SIDE`` pixels
(each side a multiple of the network's stride, 16) as RGB in 0..255 and
returns one value per 16x16 cell. The value is read as a log-density (the
network was distilled from DeepGaze II, whose readout is one): the map is
``exp`` of the cell grid resampled bicubically, which scored higher NSS than
the raw values on mit1003-100 (docs/saliency.md). The stored 19-tap blur is
not applied: on the stride-16 grid it lowered every score there.

On a still (and a shot's first frame) the caller may ask for ``mirror``:
the network also sees the frame mirrored left to right, and the two grids
(the second flipped back) are averaged as log-densities. The network is not
symmetric itself, so this removes part of its noise; the map of a mirrored
frame is then exactly the mirrored map (docs/saliency.md, "Stills").

The network is loaded once per process, on first use, and shared by every
:class:`GazeModel` and :func:`gaze_probability` call (OpenCV's ``Net`` is
not re-entrant, so calls are serialised by a lock).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import cv2
import numpy as np

from ..data import GAZE_NETWORK
from ..errors import SalcodecError
from .base import DetectorModel, normalize_map, read_onnx, validate_rgb

MODEL_FILE = GAZE_NETWORK.name
#: Long side the network sees. 256 costs about half of 320 (docs/saliency.md).
NET_SIDE = 320
#: Total stride of the network: its output has one value per STRIDE x STRIDE cell.
STRIDE = 16

_net: cv2.dnn.Net | None = None
_lock = threading.Lock()


def _load_net() -> cv2.dnn.Net:
    # OpenCV 5.0's classic engine (4.x has only that one) runs this plain
    # convolution stack with 25% less CPU than 5.0's new engine, and with
    # less than half of 5.1's, which has no classic engine: pyproject.toml
    # holds OpenCV below 5.1 (benchmarks/RESULTS.md, Cost). Outputs agree to 1e-5.
    return read_onnx(GAZE_NETWORK, "FastGaze network", "ENGINE_CLASSIC")


def network_size(shape: tuple[int, int], side: int = NET_SIDE) -> tuple[int, int]:
    """Input size (H, W) for a frame of ``shape``: long side ~``side``, multiples of 16."""
    if side < STRIDE:
        raise ValueError(f"side must be >= {STRIDE}, got {side}")
    h, w = int(shape[0]), int(shape[1])
    scale = side / max(h, w)
    return (
        max(STRIDE, round(h * scale / STRIDE) * STRIDE),
        max(STRIDE, round(w * scale / STRIDE) * STRIDE),
    )


def gaze_grid(image: np.ndarray, side: int = NET_SIDE, mirror: bool = False) -> np.ndarray:
    """FastGaze's raw output for an RGB uint8 frame: float32, one value per 16x16 cell.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        RGB frame, any size.
    side : int
        Long side the frame is scaled to before the network (rounded to
        multiples of 16 on each side).
    mirror : bool
        Also run the scaled frame mirrored left to right (a second pass,
        twice the cost) and return the mean of the two grids, the
        second flipped back: a mirrored frame then gives the mirrored grid.

    Returns
    -------
    ndarray, shape (h / 16, w / 16), float32
        Log-density-like values for the scaled frame (h, w) = ``network_size``.
    """
    global _net
    image = validate_rgb(image)
    dh, dw = network_size(image.shape[:2], side)
    small = cv2.resize(image, (dw, dh), interpolation=cv2.INTER_AREA)
    # The mirror runs as a second pass, not a batch of two: the network keeps
    # its buffers for the largest input it saw (a batch of two at 320 px
    # doubled its memory, +30 MiB; benchmarks/memory_profile.py).
    views = (small, small[:, ::-1]) if mirror else (small,)
    grids = []
    with _lock:
        if _net is None:
            _net = _load_net()
        for view in views:
            _net.setInput(np.ascontiguousarray(view.astype(np.float32).transpose(2, 0, 1)[None]))
            out = _net.forward()
            expected = (1, 1, dh // STRIDE, dw // STRIDE)
            if out.shape != expected:
                raise SalcodecError(
                    f"{MODEL_FILE}: unexpected output shape {out.shape} for input {dw}x{dh}, "
                    f"expected {expected} (OpenCV {cv2.__version__})"
                )
            grids.append(out[0, 0].astype(np.float32))
    if mirror:  # the mean of two log-densities: a geometric mean of the densities
        return (0.5 * (grids[0] + grids[1][:, ::-1])).astype(np.float32)
    return grids[0]


def _log_map(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    # Bicubic: smooth, no 16-pixel facets.
    grid = np.asarray(grid, dtype=np.float32)
    return cv2.resize(grid, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_CUBIC)


def _density(log_density: np.ndarray) -> np.ndarray:
    # Subtract the maximum first: exp stays in (0, 1], no overflow.
    return np.exp(log_density - float(log_density.max())).astype(np.float32)


def gaze_map(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Density of a :func:`gaze_grid` output resampled to ``shape`` (H, W): float32, > 0.

    The grid is resized bicubically (smooth, no 16-pixel facets) as a
    log-density, then exponentiated; the result is unnormalised.
    """
    return _density(_log_map(grid, shape))


def gaze_probability(
    rgb: np.ndarray, shape: tuple[int, int] | None = None,
    side: int | Sequence[int] = NET_SIDE, mirror: bool = False,
) -> np.ndarray:
    """FastGaze's fixation map of one full RGB frame, for fusion with other cues.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
        The whole frame (the network scales it itself).
    shape : (int, int), optional
        Size (H, W) of the returned map; default: the frame's.
    side : int or sequence of int
        Long side the network sees (see :data:`NET_SIDE`). Several sides:
        the network runs at each, and the log-densities, resampled to
        ``shape``, are averaged (a geometric mean of the densities).
    mirror : bool
        Average with the mirrored frame's map (see :func:`gaze_grid`); two
        network runs per side.

    Returns
    -------
    ndarray, float32
        Relative fixation density scaled to [0, 1] (maximum 1). Costs one
        network run (about 0.1 s at ``side=320`` on one core; see
        docs/saliency.md): video callers should run it at a cadence.
    """
    rgb = validate_rgb(rgb)
    shape = rgb.shape[:2] if shape is None else shape
    sides = [side] if isinstance(side, int | np.integer) else list(side)
    if not sides:
        raise ValueError("side: no size given")
    log_density = _log_map(gaze_grid(rgb, sides[0], mirror), shape)
    for other in sides[1:]:
        log_density += _log_map(gaze_grid(rgb, other, mirror), shape)
    if len(sides) > 1:
        log_density /= len(sides)
    return normalize_map(_density(log_density))


class GazeModel(DetectorModel):
    """FastGaze alone: the learned fixation density, without a centre prior.

    Parameters
    ----------
    side : int
        Long side the network sees (see :data:`NET_SIDE`).
    """

    name = "gaze"

    def __init__(self, side: int = NET_SIDE) -> None:
        if side < STRIDE:
            raise ValueError(f"side must be >= {STRIDE}, got {side}")
        self.side = side

    def detect(self, image: np.ndarray) -> np.ndarray:
        return gaze_grid(image, self.side)

    def draw(self, found: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return gaze_map(found, shape)
