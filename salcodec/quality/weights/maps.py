"""``map:PATH`` and ``density:PATH``: a grey image or a grey video as the weights."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import av
import cv2
import numpy as np

from ...errors import InputError
from .base import WeightSource, is_image, resize

if TYPE_CHECKING:
    from ..video import FramePair
    from .spec import WeightSpec


def _grey_unit(img: np.ndarray, path: str) -> np.ndarray:
    """A grey or colour image of any integer/float dtype as float64 in [0, 1]."""
    if img.ndim == 3:
        img = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2GRAY)
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 65535.0
    if np.issubdtype(img.dtype, np.floating):
        return img.astype(np.float64)
    raise InputError(f"{path}: unsupported map image type {img.dtype}")


class MapWeights(WeightSource):
    """A grey image (static) or grey video (frame k for reference frame k)."""

    def __init__(self, spec: WeightSpec, width: int, height: int):
        super().__init__(spec, width, height)
        path = spec.target
        if not os.path.exists(path):
            raise InputError(f"{path}: weight map not found")
        self._static: np.ndarray | None = None
        self._container = None
        if is_image(path):
            img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if img is None:
                raise InputError(f"{path}: cannot read as an image")
            self._static = self._finish(resize(_grey_unit(img, path), width, height))
        else:
            try:
                self._container = av.open(path)
                stream = self._container.streams.video[0]
            except (av.FFmpegError, OSError, IndexError):
                raise InputError(f"{path}: not an image or a video with a video stream") from None
            self._frames = self._container.decode(stream)
            self._next_index = 0

    def _finish(self, m: np.ndarray) -> np.ndarray:
        m = np.clip(m, 0.0, None)
        if self.spec.kind == "density" and m.sum() > 0:
            m = m / m.sum()
        return m

    def raw(self, pair: FramePair) -> np.ndarray:
        if self._static is not None:
            return self._static
        # Map videos are read in step with reference frame indices.
        frame = None
        while self._next_index <= pair.ref.index:
            frame = next(self._frames, None)
            if frame is None:
                raise InputError(
                    f"{self.spec.target}: map video ends at frame {self._next_index}, "
                    f"before reference frame {pair.ref.index}"
                )
            self._next_index += 1
        grey = frame.to_ndarray(format="gray").astype(np.float64) / 255.0
        return self._finish(resize(grey, self.width, self.height))

    def describe(self) -> dict:
        d = super().describe()
        d["map"] = "image" if self._static is not None else "video"
        if self.spec.kind == "density":
            d["normalised"] = "sum 1 per frame"
        return d

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
