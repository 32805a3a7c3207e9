"""A half-size encode of the whole video, made while its sample is cut: crf-search's sizes.

A sample of a few short windows cannot see all of a video: scene cuts and busy
stretches between the windows are missed, and each window's cold start and
truncated look-ahead change what its frames cost. So while the sample is cut,
every decoded frame is also scaled to half size and encoded twice with the
plain encoder's own settings: once as the whole video, once as the sample's
windows back to back (the structure the trial encodes see). Per picture kind
(IDR/key frames and the rest), the full proxy's bytes over the window proxy's
is what the whole video costs over its sample, and a trial's bytes scaled by it
predict the full encode (:meth:`SizeProxy.predict`).

Measured against real full encodes (docs/quality.md, plain x264 at CRF 23,
preset medium): within 5% on six of eight clips, worst +12.2%, where the
windows alone were off by -34% to +30%. The proxy costs 0.3-0.6x one full
encode's CPU time (half the size in each direction, same preset, plus
decoding the rest of the video), which the search pays once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .bitstream import packet_payloads
from .errors import SalcodecError
from .io.conform import conform_frame

#: Proxy size over the source's, per direction. Half size kept the per-kind
#: ratios within 2% of a full-size proxy's on most clips; a quarter did not
#: (small pictures lose the detail that costs bits at full size).
SCALE = 0.5
#: Narrowest proxy: x264 needs a few macroblocks to decide like the full encode.
MIN_WIDTH = 64


def proxy_size(width: int, height: int, scale: float = SCALE) -> tuple[int, int]:
    """Even proxy dimensions: ``scale`` x the source's, at least ``MIN_WIDTH`` wide."""
    f = min(1.0, max(scale, MIN_WIDTH / max(width, 1)))
    return 2 * max(1, math.ceil(width * f / 2)), 2 * max(1, math.ceil(height * f / 2))


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
    """The two half-size encodes: the whole video and its sample's windows, and their size."""

    full: FrameSizes
    windows: FrameSizes
    size: tuple[int, int]

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
    """Encode frames scaled to the proxy size into a Matroska file (a context manager).

    ``settings`` are the plain encoder's (codec, CRF, preset, params, bit
    depth). An encoder failure is a :class:`SalcodecError` naming the proxy,
    never mistaken for a corrupt input.
    """

    def __init__(self, path: str | os.PathLike, settings, width: int, height: int,
                 rate: Fraction) -> None:
        from .codecs import add_video_stream

        self.path = Path(path)
        self.size = proxy_size(width, height)
        self.pix_fmt = settings.pix_fmt
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

    def add(self, frame: av.VideoFrame) -> None:
        small = conform_frame(frame, *self.size, self.pix_fmt)
        # Constant steps, as the sample's: the encoder sees no timestamp gaps.
        # A source already at the proxy's size and format comes back as the
        # caller's own frame: its timestamps are put back after the encoder
        # has taken its copy of the picture.
        kept = (small.pts, small.time_base)
        small.pts, small.time_base = self._count, Fraction(1) / self.rate
        self._count += 1
        try:
            self._out.mux(self._stream.encode(small))
        except av.error.FFmpegError as exc:
            raise self._error(exc) from None
        finally:
            if small is frame:
                frame.pts, frame.time_base = kept

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
