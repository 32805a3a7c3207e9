"""External maps in place of a model: a greyscale video, a folder of images, or a sidecar.

``salcodec encode --map SOURCE`` hands every frame's map to the mapper (no
cadence: each frame has its own map), aligned by frame index; a sidecar's
pts must also match the video's. Video and image maps are importance (bright =
look here), resized to the macroblock grid and mapped to offsets like a
model's map; a sidecar's offsets are applied as given, so exporting a map and
encoding again with it gives the same bitstream.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import av
import cv2
import numpy as np

from ..errors import InputError
from ..mapfile import MapReader, is_map_file
from ..mbmap import macroblock_grid, pool_to_macroblocks

#: Image files a map folder may hold.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".webp")
#: How far a map's aspect ratio may be from the video's (a map of another video).
ASPECT_TOLERANCE = 0.05


class ExternalMaps:
    """Per-frame maps from outside, in the video's frame order.

    Call :meth:`next` once per frame; it returns ``(importance, offsets)``, one
    of them None: importance per macroblock (to be mapped like a model's map),
    or integer QP offsets per macroblock to apply as given. :meth:`finish`
    checks that the source has no frames left.
    """

    def __init__(self, source: str, width: int, height: int) -> None:
        self.source, self.width, self.height = source, width, height
        self.grid = macroblock_grid(width, height)
        self.index = 0

    def next(self, pts: int | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _too_short(self) -> InputError:
        return InputError(f"{self.source}: the map has {self.index} frames but the video has "
                          "more; maps are aligned by frame index")

    def _too_long(self) -> InputError:
        return InputError(f"{self.source}: the map has more frames than the video's "
                          f"{self.index}; maps are aligned by frame index")

    def _importance(self, gray: np.ndarray, name: str) -> np.ndarray:
        """A greyscale picture of any size as mean importance per macroblock."""
        h, w = gray.shape[:2]
        if (h, w) != self.grid:
            ratio = (w / h) / (self.width / self.height)
            if abs(ratio - 1) > ASPECT_TOLERANCE:
                raise InputError(f"{name}: map is {w}x{h}, which does not fit the "
                                 f"{self.width}x{self.height} video (aspect ratio differs)")
        scale = 65535.0 if gray.dtype == np.uint16 else 255.0
        return pool_to_macroblocks(gray.astype(np.float32) / scale, self.width, self.height)


class SidecarMaps(ExternalMaps):
    """A sidecar (:mod:`salcodec.mapfile`): offsets applied as given, pts checked."""

    def __init__(self, source: str, width: int, height: int) -> None:
        super().__init__(source, width, height)
        self._reader = MapReader(source, width, height)
        self._records = iter(self._reader)

    def next(self, pts):
        rec = next(self._records, None)
        if rec is None:
            raise self._too_short()
        if rec.pts is not None and pts is not None and rec.pts != pts:
            raise InputError(f"{self.source}: frame {self.index} has pts {rec.pts} in the map "
                             f"but {pts} in the video; the map belongs to another video")
        self.index += 1
        return None, rec.offsets

    def finish(self) -> None:
        if next(self._records, None) is not None:
            raise self._too_long()

    def close(self) -> None:
        self._reader.close()


class VideoMaps(ExternalMaps):
    """A video whose luma is the map (any size, resized to the macroblocks)."""

    def __init__(self, source: str, width: int, height: int) -> None:
        super().__init__(source, width, height)
        try:
            self._container = av.open(source)
            stream = self._container.streams.video[0]
        except (av.error.FFmpegError, IndexError):
            raise InputError(f"{source}: not a video, an image folder or a salcodec map "
                             "sidecar") from None
        self._frames = self._container.decode(stream)

    def _read(self) -> np.ndarray | None:
        try:
            frame = next(self._frames, None)
        except av.error.FFmpegError as exc:
            raise InputError(f"{self.source}: corrupt map video ({exc})") from None
        return None if frame is None else frame.to_ndarray(format="gray")

    def next(self, pts):
        gray = self._read()
        if gray is None:
            raise self._too_short()
        self.index += 1
        return self._importance(gray, self.source), None

    def finish(self) -> None:
        if self._read() is not None:
            raise self._too_long()

    def close(self) -> None:
        self._container.close()


class ImageFolderMaps(ExternalMaps):
    """A folder of greyscale images, one per frame, in natural name order."""

    def __init__(self, source: str, width: int, height: int) -> None:
        super().__init__(source, width, height)
        self.files = sorted((p for p in Path(source).iterdir()
                             if p.suffix.lower() in IMAGE_EXTENSIONS), key=_natural)
        if not self.files:
            raise InputError(f"{source}: the map folder holds no images "
                             f"({', '.join(IMAGE_EXTENSIONS)})")

    def next(self, pts):
        if self.index >= len(self.files):
            raise self._too_short()
        path = self.files[self.index]
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
        if gray is None:
            raise InputError(f"{path}: cannot read this map image")
        self.index += 1
        return self._importance(gray, str(path)), None

    def finish(self) -> None:
        if len(self.files) > self.index:
            raise self._too_long()


def _natural(path: Path) -> list:
    # frame2 before frame10, as people number files.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def open_maps(source: str | os.PathLike, width: int, height: int) -> ExternalMaps:
    """The external map source at ``source`` for a ``width`` x ``height`` video.

    A folder is read as images, a file starting with a sidecar header as a
    sidecar, anything else as a video.
    """
    source = os.fspath(source)
    if os.path.isdir(source):
        return ImageFolderMaps(source, width, height)
    if not os.path.isfile(source):
        raise InputError(f"{source}: no such map file or folder")
    if is_map_file(source):
        return SidecarMaps(source, width, height)
    return VideoMaps(source, width, height)


__all__ = ["ExternalMaps", "ImageFolderMaps", "SidecarMaps", "VideoMaps", "open_maps"]
