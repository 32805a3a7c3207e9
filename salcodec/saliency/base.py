"""The one protocol every saliency model follows.

A model is called once per frame with an RGB ``uint8`` array of shape
``(H, W, 3)`` and returns a ``float32`` map of shape ``(H, W)`` with values in
``[0, 1]`` (higher = more likely to be looked at). Models may keep temporal
state between calls; :meth:`SaliencyModel.reset` forgets it (a new video, a
scene cut). Models work at whatever size they are given: callers choose the
analysis resolution (the encoder feeds a few pixels per macroblock).

A model may also shrink its input further: with ``analysis_side`` set, the
frame is downscaled so its long side is at most that many pixels,
:meth:`SaliencyModel.compute` runs on the small frame, the raw map is
normalised there and upsampled bilinearly to the input size (bilinear
weights are convex, so the result stays in [0, 1]). Saliency is smooth at
the scale of fixations, so little is lost, and 720p costs what 256x144 costs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import cv2
import numpy as np


def validate_rgb(image: np.ndarray) -> np.ndarray:
    """Check that ``image`` is an RGB uint8 array of shape (H, W, 3)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {image.shape}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image too small for saliency: {image.shape[:2]}")
    return image


def read_onnx(path, what: str, engine: str = "ENGINE_AUTO") -> cv2.dnn.Net:
    """Load a shipped ONNX network with OpenCV; a missing or unreadable file is one clear error.

    Parameters
    ----------
    path : Path
        The network file (package data, see :mod:`salcodec.data`).
    what : str
        What the network is, for the message (e.g. ``"FastGaze network"``).
    engine : str
        Name of OpenCV's ``cv2.dnn`` engine constant. OpenCV 5.0 has two, and
        which is faster depends on the network (measured per network in
        benchmarks/RESULTS.md); ignored where OpenCV has no such constant
        (4.x, which has only the classic engine, and 5.1, whose only engine
        runs FastGaze at 2.3x the CPU: pyproject.toml holds OpenCV below 5.1).
    """
    from ..errors import SalcodecError

    if not path.is_file():
        raise SalcodecError(f"{path}: {what} missing from the installation")
    flag = getattr(cv2.dnn, engine, None)
    try:
        if flag is None:
            return cv2.dnn.readNetFromONNX(str(path))
        return cv2.dnn.readNetFromONNX(str(path), flag)
    except cv2.error as exc:
        raise SalcodecError(
            f"{path.name}: OpenCV {cv2.__version__} cannot load the {what}: "
            f"{str(exc).strip().splitlines()[-1]}"
        ) from exc


def normalize_map(raw: np.ndarray) -> np.ndarray:
    """Scale a map linearly to [0, 1] as float32; a flat map becomes all zeros."""
    raw = np.asarray(raw, dtype=np.float32)
    lo = float(raw.min())
    hi = float(raw.max())
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo <= 1e-12:
        return np.zeros(raw.shape, dtype=np.float32)
    return ((raw - lo) / (hi - lo)).astype(np.float32, copy=False)


def downscale(image: np.ndarray, long_side: int | None) -> np.ndarray:
    """Shrink ``image`` so that its long side is at most ``long_side`` pixels.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Image of any dtype OpenCV resizes (uint8, float32).
    long_side : int or None
        Target long side; ``None`` or a value >= the current long side
        returns ``image`` unchanged.

    Returns
    -------
    ndarray
        The (possibly) downscaled image, aspect ratio kept, each side >= 2.
    """
    if long_side is None:
        return image
    if long_side < 2:
        raise ValueError(f"long_side must be >= 2, got {long_side}")
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1.0:
        return image
    tw = max(2, round(w * scale))
    th = max(2, round(h * scale))
    # INTER_AREA over a whole 720p frame costs ~0.8 ms; a bilinear pre-shrink to
    # twice the target first keeps it ~0.2 ms with little aliasing left.
    if w >= 4 * tw and h >= 4 * th:
        image = cv2.resize(image, (2 * tw, 2 * th), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)


def upscale(saliency: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a float map bilinearly to ``shape`` = (H, W) (no-op when equal)."""
    saliency = np.asarray(saliency, dtype=np.float32)
    if saliency.shape == tuple(shape):
        return saliency
    return cv2.resize(saliency, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)


class SaliencyModel(ABC):
    """Base class of saliency models: ``model(rgb) -> float32 map in [0, 1]``."""

    #: Name used on the command line (``--model NAME``).
    name: ClassVar[str] = ""
    #: True when the model keeps state across frames.
    temporal: ClassVar[bool] = False
    #: True when the model detects scene cuts itself and sets :attr:`last_cut`;
    #: callers then take its word instead of running a detector of their own.
    detects_cuts: ClassVar[bool] = False
    #: Whether the frame last analysed started a new shot (see ``detects_cuts``).
    last_cut: bool = False
    #: Long side (pixels) the frame is shrunk to before :meth:`compute`;
    #: ``None`` computes at the size given.
    analysis_side: int | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_rgb(image)
        small = np.ascontiguousarray(downscale(image, self.analysis_side))
        raw = self.compute(small)
        if raw.shape != small.shape[:2]:
            raise RuntimeError(
                f"model {self.name!r} returned shape {raw.shape}, expected {small.shape[:2]}"
            )
        return upscale(normalize_map(raw), image.shape[:2])

    @abstractmethod
    def compute(self, image: np.ndarray) -> np.ndarray:
        """Return the raw (unnormalised) map of a validated RGB frame."""

    def reset(self) -> None:
        """Forget temporal state (new video or scene cut)."""


class PairwiseModel(SaliencyModel):
    """A temporal model that compares each frame with the one before it.

    Subclasses turn a frame into what is compared (:meth:`features`) and two
    of those into a map (:meth:`compare`); the first frame after a reset, or
    after a change of size, has nothing to compare with and gives zeros.
    """

    temporal = True

    def __init__(self, analysis_side: int = 128) -> None:
        self.analysis_side = analysis_side
        self._prev: np.ndarray | None = None

    def reset(self) -> None:
        self._prev = None

    def features(self, image: np.ndarray) -> np.ndarray:
        """What is kept of a frame for the next comparison (default: a copy)."""
        return image.copy()

    @abstractmethod
    def compare(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        """Raw map of the current frame given the previous frame's features."""

    def compute(self, image: np.ndarray) -> np.ndarray:
        cur = self.features(image)
        prev, self._prev = self._prev, cur
        if prev is None or prev.shape != cur.shape:
            return np.zeros(image.shape[:2], dtype=np.float32)
        return self.compare(prev, cur)


class DetectorModel(SaliencyModel):
    """A model drawn from a detector that needs more pixels than the map.

    :meth:`detect` runs on the full frame given to the model (a network has
    its own input size); :meth:`draw` turns what it found into a raw map at
    the analysis size.
    """

    analysis_side = 128
    _found: np.ndarray | None = None  # set by __call__ for compute()

    @abstractmethod
    def detect(self, image: np.ndarray) -> np.ndarray:
        """What the detector finds in a full RGB frame (boxes, a probability map...)."""

    @abstractmethod
    def draw(self, found: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Raw map of ``shape`` (H, W) from :meth:`detect`'s result."""

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_rgb(image)
        self._found = self.detect(image)
        try:
            return super().__call__(image)
        finally:
            self._found = None

    def compute(self, image: np.ndarray) -> np.ndarray:
        found = self.detect(image) if self._found is None else self._found
        return self.draw(found, image.shape[:2])
