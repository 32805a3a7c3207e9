"""The encoders salcodec drives, one module each, beside the ROI bridge.

Every encoder reads the same ``AV_FRAME_DATA_REGIONS_OF_INTEREST`` side data
(:mod:`salcodec.codecs.roi`), but each on its own quantiser scale, block grid
and conditions; each module turns ``crf``/``preset``/``params`` into the
encoder's AVOptions and refuses the settings under which that encoder would
drop the offsets without a word. This registry says, per encoder, what the
rest of salcodec needs to know (:class:`Codec`); :func:`get_codec` refuses
every other encoder with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av

from ..errors import SalcodecError

#: 4:2:0 formats salcodec can hand an encoder with ROI attached (8 and 10 bit).
PIX_FMTS = ("yuv420p", "yuv420p10le")

#: Encoders FFmpeg has that salcodec refuses, with the reason.
REFUSED = {
    "libsvtav1": "libsvtav1 ignores FFmpeg's ROI side data (measured: identical output with "
                 "and without offsets), so saliency would change nothing",
}


@dataclass(frozen=True)
class Codec:
    """What salcodec needs to know about one encoder.

    Attributes
    ----------
    name : str
        FFmpeg's encoder name, what ``--codec`` takes.
    decoded : str
        The name of the codec a decoder sees in the output (h264, hevc, vp9).
    crf_max : int
        Largest ``--crf``; ``crf_integer`` when the encoder takes whole numbers only.
    levels : int or None
        Distinct non-zero offsets the encoder keeps per frame (libvpx-vp9: 7
        segments beside the zero one); None = no limit.
    truncates : bool
        FFmpeg truncates ``qoffset x range`` toward zero for this encoder
        (libvpxenc.c), so records must be written to survive that.
    qp_export : str or None
        None when FFmpeg's decoder exports the per-block quantiser
        (``export_side_data=venc_params``); otherwise why not.
    containers : frozenset of str
        Muxers that hold the stream.
    options : callable
        ``(crf, preset, params, roi_enabled) -> AVOptions``, checked so the
        offsets are never dropped silently (raises :class:`SalcodecError`).
    roi_drops : str
        For ``--help``/README: what makes this encoder drop ROI and what
        salcodec does about it.
    """

    name: str
    label: str
    decoded: str
    crf_max: int
    crf_integer: bool
    levels: int | None
    truncates: bool
    qp_export: str | None
    containers: frozenset[str]
    options: Callable[..., dict[str, str]]
    roi_drops: str

    def qp_range(self, pix_fmt: str = "yuv420p") -> int:
        """The scale FFmpeg multiplies ``qoffset`` with: the QP range at this bit depth.

        libx264.c and libx265.c use ``51 + 6 * (bit_depth - 8)``; libvpxenc.c
        always 63 (VP9's quantiser, the scale of its ``crf``).
        """
        if self.name == "libvpx-vp9":
            return 63
        return 51 + 6 * (_bit_depth(pix_fmt) - 8)

    def pix_fmts(self) -> tuple[str, ...]:
        """The 4:2:0 formats this PyAV build's encoder accepts."""
        try:
            offered = {f.name for f in av.Codec(self.name, "w").video_formats or ()}
        except (av.error.FFmpegError, ValueError):
            offered = set()
        return tuple(f for f in PIX_FMTS if f in offered)

    def check(self, crf: float, pix_fmt: str) -> None:
        """Refuse a CRF or pixel format this encoder cannot take."""
        if not 0 <= crf <= self.crf_max:
            raise SalcodecError(f"--crf must be within 0..{self.crf_max} for {self.name}, "
                                f"got {crf:g}")
        if self.crf_integer and crf != int(crf):
            raise SalcodecError(f"{self.name} takes a whole-number --crf, got {crf:g}")
        allowed = self.pix_fmts()
        if pix_fmt not in allowed:
            why = ("salcodec writes 4:2:0 (8-bit yuv420p or 10-bit yuv420p10le)"
                   if pix_fmt not in PIX_FMTS else
                   f"the {self.name} in this PyAV build has no {pix_fmt}")
            raise SalcodecError(f"--pix-fmt {pix_fmt} is not available for {self.name}: {why}; "
                                f"use {' or '.join(allowed) or 'another codec'}")


def _bit_depth(pix_fmt: str) -> int:
    return 10 if pix_fmt.endswith("p10le") else 8


def _registry() -> dict[str, Codec]:
    from . import vp9, x264, x265

    return {c.name: c for c in (x264.CODEC, x265.CODEC, vp9.CODEC)}


_CODECS: dict[str, Codec] | None = None


def codecs() -> dict[str, Codec]:
    """Every encoder salcodec drives, by FFmpeg name."""
    global _CODECS
    if _CODECS is None:
        _CODECS = _registry()
    return _CODECS


def codec_names() -> tuple[str, ...]:
    return tuple(codecs())


def get_codec(name: str) -> Codec:
    """The :class:`Codec` for ``--codec NAME``; any other encoder is refused with the reason."""
    known = codecs()
    if name in known:
        return known[name]
    if name in REFUSED:
        raise SalcodecError(f"--codec {name}: {REFUSED[name]}; use {', '.join(known)}")
    raise SalcodecError(f"--codec {name}: not an encoder salcodec drives; use "
                        f"{', '.join(known)}")


def parse_params(text: str | None) -> dict[str, str]:
    """Parse ``K=V:K=V`` into a dict; a bare key means ``1``; ``_`` is read as ``-``.

    x264 and x265 read ``aq_mode`` and ``aq-mode`` alike, and so do FFmpeg's
    libvpx options, so the checks see every spelling in one form.
    """
    params: dict[str, str] = {}
    for item in (text or "").split(":"):
        if not item:
            continue
        key, _, value = item.partition("=")
        params[key.strip().replace("_", "-")] = value.strip() if _ else "1"
    return params


def number(text: str, key: str, codec: str) -> float:
    """A parameter's value as a number, or a one-line error naming it."""
    try:
        return float(text)
    except ValueError:
        raise SalcodecError(f"{codec} parameter {key}={text!r} is not a number") from None


def bundled_library(stem: str) -> str | None:
    """Path of the shared library ``lib<stem>`` that PyAV's wheel bundles (or the system's).

    The encoders' own parameter parsers are called through it (ctypes), so a
    parameter is checked by the library that will read it.
    """
    import ctypes.util
    import glob
    from pathlib import Path

    pkg = Path(av.__file__).resolve().parent
    found = sorted(glob.glob(str(pkg.parent / "av.libs" / f"lib{stem}*.so*")))
    found += sorted(glob.glob(str(pkg / ".dylibs" / f"lib{stem}*.dylib")))
    return found[0] if found else ctypes.util.find_library(stem)


def add_video_stream(container: av.container.OutputContainer, codec: str, width: int,
                     height: int, rate: Fraction | None, time_base: Fraction | None, *,
                     crf: float = 23, preset: str = "medium", params: str | None = None,
                     roi_enabled: bool = True, pix_fmt: str = "yuv420p"):
    """Add a ``codec`` stream (4:2:0, even size) to an output container you own.

    The options come from the codec's module, checked so ROI is not dropped;
    frames must reach it already in ``pix_fmt`` at this size (see
    :func:`salcodec.io.conform.conform_frame`), or PyAV reformats them into new
    frames and the ROI side data is lost.
    """
    from ..io.conform import even_size

    spec = get_codec(codec)
    spec.check(crf, pix_fmt)
    width, height = even_size(width, height)
    stream = container.add_stream(codec, rate=rate or Fraction(25))
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    if time_base:
        # Keep the input's time base so variable-rate timestamps survive exactly.
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
    if rate:
        stream.codec_context.framerate = rate
    stream.options = spec.options(crf, preset, params, roi_enabled)
    if codec == "libx264":
        # PyAV asks for slice threads; x264 and the ffmpeg CLI default to frame
        # threads, which compress better and were faster here (measured on 720p).
        stream.codec_context.thread_type = "FRAME"
    if codec == "libx265" and container.format.name.split(",")[0] in ("mp4", "mov"):
        # Apple players accept HEVC in MP4/MOV only as hvc1 (parameter sets in
        # the sample description); FFmpeg's default tag is hev1.
        stream.codec_context.codec_tag = "hvc1"
    return stream


__all__ = ["PIX_FMTS", "REFUSED", "Codec", "add_video_stream", "bundled_library", "codec_names",
           "codecs", "get_codec", "number", "parse_params"]
