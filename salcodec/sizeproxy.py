"""A tiled encode of the whole video beside its sample: crf-search's sizes.

A sample of a few short windows cannot see all of a video: scene cuts and busy
stretches between the windows are missed, and each window's cold start and
truncated look-ahead change what its frames cost. So every decoded frame of
the video also gives a small proxy picture
(:func:`salcodec.sampling.with_proxy`), encoded twice with the plain
encoder's own settings: once as the whole video, once as the sample's
windows back to back (the structure the trial encodes see). Per picture kind
(IDR/key frames and the rest), the full proxy's bytes over the window proxy's
is what the whole video costs over its sample, and a trial's bytes scaled by it
predict the full encode (:meth:`SizeProxy.predict`).

The proxy picture is a mosaic of four tiles copied from the frame (a quarter
of its area, :func:`mosaic`), not the frame scaled down: any resampling, even
to 0.99 of the size, moved the full/windows ratio away from the full-size
encode's by 4-8 % on some clips (it filters the source's noise and detail and
moves them off the macroblock grid), and by more as the CRF changed. Tiles keep
the source's samples on its macroblock grid; four tiles spread over the frame
(one per row and column of a 4 x 4 grid) see more of it than one centred crop
(-12 % against -1.5 % on a clip whose detail is off centre).

Measured against real full encodes (docs/quality.md, plain x264, preset
medium, eight clips): at CRF 23 within 5 % on seven, worst +6.7 %, mean
absolute error 2.0 %, where a half-size proxy was within 5 % on six (worst
+12.2 %, mean 4.1 %) and the windows alone were off by -34 % to +30 %; CRF
20 and 28 and three held-out clips (one missed by 11 %) in docs/quality.md.
The proxy costs 0.24-0.39x one full encode's CPU time (a quarter of the
pixels, same preset, plus decoding the rest of the video), which the search
pays once. The same two encodes also measure what the windows cost in quality
(:mod:`salcodec.proxyquality`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .bitstream import packet_payloads
from .errors import SalcodecError
from .io.conform import conform_frame, plane_array

#: Macroblock size: tiles start on the source's macroblock grid and span whole macroblocks.
ALIGN = 16
#: The picture is cut into GRID x GRID cells ...
GRID = 4
#: ... of which four are kept, one in each row and column of the grid (a rook
#: placement: the centre, the edges and the corners are all sampled), laid out
#: 2 x 2 in the proxy picture: (row, column) of the source cell per tile.
ROOK = (((0, 1), (1, 3)), ((2, 0), (3, 2)))
#: Smallest tile side: the seams between small tiles weigh on the ratio (on a
#: 176 x 144 clip, 32 x 32 tiles were 4.0-4.6 % off at CRF 20-28, 64 x 64
#: tiles within 1.1 %).
MIN_TILE = 64


@dataclass(frozen=True)
class Mosaic:
    """Where the proxy's tiles come from: ``origins[i][j]`` (y, x) of tile (i, j), and its size."""

    origins: tuple[tuple[tuple[int, int], ...], ...]
    tile: tuple[int, int]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the proxy picture."""
        return self.tile[0] * len(self.origins[0]), self.tile[1] * len(self.origins)

    def cut(self, planes: list[np.ndarray]) -> list[np.ndarray]:
        """The proxy's planes from a 4:2:0 picture's (Y, U, V), any sample type.

        Tiles are copied, never resampled: each keeps the source's samples,
        noise and macroblock grid.
        """
        (tw, th), out = self.tile, []
        for k, plane in enumerate(planes):
            d = 1 if k == 0 else 2  # chroma at half size in each direction
            out.append(np.concatenate([
                np.concatenate([plane[y // d:(y + th) // d, x // d:(x + tw) // d]
                                for y, x in row], axis=1)
                for row in self.origins], axis=0))
        return out


def mosaic(width: int, height: int) -> Mosaic:
    """The proxy's tiles for an even ``width`` x ``height`` picture.

    Tiles are a quarter of the picture's width and height rounded down to
    whole macroblocks (four of them: a quarter of its area), at least
    :data:`MIN_TILE` on a side (small pictures: overlapping tiles, a larger
    share, still cheap), at their :data:`ROOK` cells' macroblock-aligned
    origins. A picture too small for two such tiles in a direction is its own
    proxy (one tile, the whole picture).
    """
    tw = max(MIN_TILE, width // GRID // ALIGN * ALIGN)
    th = max(MIN_TILE, height // GRID // ALIGN * ALIGN)
    if 2 * tw > width or 2 * th > height:
        return Mosaic((((0, 0),),), (width, height))

    def origin(cell: int, extent: int, tile: int) -> int:
        at = int(round(cell * extent / GRID / ALIGN)) * ALIGN
        return min(at, (extent - tile) // ALIGN * ALIGN)

    return Mosaic(tuple(tuple((origin(r, height, th), origin(c, width, tw)) for r, c in row)
                        for row in ROOK), (tw, th))


@dataclass(frozen=True)
class FrameSizes:
    """Coded bytes (SEI left out) and key-frame flags of an encode, in presentation order."""

    bytes: np.ndarray
    keys: np.ndarray

    @classmethod
    def of_file(cls, path: str | os.PathLike) -> FrameSizes:
        rows = sorted(packet_payloads(path))
        return cls(np.array([n for _, n, _ in rows], dtype=np.float64),
                   np.array([k for _, _, k in rows], dtype=bool))


@dataclass(frozen=True)
class SizeProxy:
    """The two proxy encodes: the whole video and its sample's windows, and their picture size.

    ``quality``: the target metric of each sample frame's proxy picture in the
    full and the windows' encode (:func:`salcodec.proxyquality.window_quality`),
    or None when not scored; ``crf``: the CRF both were encoded at.
    """

    full: FrameSizes
    windows: FrameSizes
    size: tuple[int, int]
    quality: tuple[np.ndarray, np.ndarray] | None = None
    crf: float | None = None

    def predict(self, trial: FrameSizes) -> float:
        """Bytes of the full encode, from one trial encode of the sample.

        For each picture kind (key frames, the rest): the full proxy's bytes
        of that kind times the trial's mean over the window proxy's mean. A
        kind the trial or the window proxy lacks borrows the all-frames means.
        """
        total = 0.0
        for kind in (True, False):
            full = self.full.bytes[self.full.keys == kind]
            if not len(full):
                continue
            t = trial.bytes[trial.keys == kind]
            w = self.windows.bytes[self.windows.keys == kind]
            if not len(t) or not len(w) or w.mean() <= 0:
                t, w = trial.bytes, self.windows.bytes
            total += full.sum() * t.mean() / max(w.mean(), 1.0)
        return total


class ProxyEncoder:
    """Encode the proxy mosaic of ``width`` x ``height`` frames into a Matroska file.

    A context manager. :meth:`picture` conforms a frame to the output's even
    size and pixel format (:func:`~salcodec.io.conform.conform_frame`) and cuts
    it; :meth:`add` encodes it.

    ``settings`` are the plain encoder's (codec, CRF, preset, params, bit
    depth). An encoder failure is a :class:`SalcodecError` naming the proxy,
    never mistaken for a corrupt input.
    """

    def __init__(self, path: str | os.PathLike, settings, width: int, height: int,
                 rate: Fraction) -> None:
        from .codecs import add_video_stream

        self.path = Path(path)
        self.source = (width, height)
        self.mosaic = mosaic(width, height)
        self.size = self.mosaic.size
        self.pix_fmt = settings.pix_fmt
        self._dtype = np.uint16 if settings.pix_fmt.endswith(("10le", "12le")) else np.uint8
        self.rate = rate
        self._codec = settings.codec
        self._out = av.open(str(self.path), "w", format="matroska")
        try:
            self._stream = add_video_stream(
                self._out, settings.codec, *self.size, rate, None, crf=settings.crf,
                preset=settings.preset, params=settings.params, roi_enabled=False,
                pix_fmt=settings.pix_fmt)
        except BaseException:
            self.close()
            raise
        self._count = 0

    def __enter__(self) -> ProxyEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def picture(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The proxy picture of a decoded frame: conformed, then cut into its mosaic.

        Make it once per frame and :meth:`add` it to every proxy encoder of the
        same settings (the whole video's and the windows').
        """
        full = conform_frame(frame, *self.source, self.pix_fmt)
        if self.size == self.source:  # a small picture is its own proxy
            return full
        y, u, v = self.mosaic.cut([plane_array(p, self._dtype) for p in full.planes])
        # Tiles span whole macroblocks: the chroma rows stack as whole luma-wide rows.
        tile = av.VideoFrame.from_ndarray(
            np.concatenate([y, u.reshape(-1, y.shape[1]), v.reshape(-1, y.shape[1])]),
            format=self.pix_fmt)
        tile.color_range = full.color_range
        return tile

    def add(self, picture: av.VideoFrame) -> None:
        """Encode the next :meth:`picture`; its own timestamps are left as they were."""
        # Constant steps, as the sample's: the encoder sees no timestamp gaps.
        # The picture may be the caller's frame (conform_frame returns a frame
        # already in shape) or go to another proxy encoder: its timestamps are
        # put back once the encoder has taken its copy of the picture.
        kept = picture.pts, picture.time_base
        picture.pts, picture.time_base = self._count, Fraction(1) / self.rate
        self._count += 1
        try:
            self._out.mux(self._stream.encode(picture))
        except av.error.FFmpegError as exc:
            raise self._error(exc) from None
        finally:
            picture.pts = kept[0]
            if kept[1] is not None:  # a fresh mosaic has none, and PyAV takes no None
                picture.time_base = kept[1]

    def finish(self) -> FrameSizes:
        """Flush the encoder, close the file and read its frame sizes."""
        try:
            self._out.mux(self._stream.encode(None))
        except av.error.FFmpegError as exc:
            raise self._error(exc) from None
        self.close()
        return FrameSizes.of_file(self.path)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def _error(self, exc: Exception) -> SalcodecError:
        return SalcodecError(f"{self.path.name}: the {self._codec} size proxy failed "
                             f"({getattr(exc, 'strerror', None) or exc})")
