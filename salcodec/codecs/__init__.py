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

#: 4:2:0 formats salcodec can hand an encoder with ROI attached (8 and 10 bit); the
#: one list, which the ROI bridge (:mod:`salcodec.codecs.roi`) checks frames against.
PIX_FMTS = ("yuv420p", "yuv420p10le")

#: x264's preset names, which x265 shares (libvpx-vp9 maps them to speeds).
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
           "slower", "veryslow", "placebo")

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
    label : str
        The format's name for messages (H.264, HEVC, VP9).
    decoded : str
        The name of the codec a decoder sees in the output (h264, hevc, vp9).
    crf_max : int
        Largest ``--crf``.
    crf_integer : bool
        The encoder takes whole-number CRFs only (libvpx-vp9).
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
    dash_params : bool
        The encoder's own parameter parser reads ``_`` in a key as ``-``
        (x264, x265), so :func:`parse_params` writes every key with dashes and
        the checks see one spelling; False keeps keys as typed (FFmpeg's
        AVOptions, e.g. libvpx-vp9's ``aq-mode`` beside ``keyint_min``).
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
    dash_params: bool = False

    def check_crf(self, crf: float) -> None:
        """Refuse a ``--crf`` outside this encoder's range (or fractional where it takes none)."""
        if not 0 <= crf <= self.crf_max:
            raise SalcodecError(f"--crf must be within 0..{self.crf_max} for {self.name}, "
                                f"got {crf:g}")
        if self.crf_integer and crf != int(crf):
            raise SalcodecError(f"{self.name} takes a whole-number --crf, got {crf:g}")

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
        self.check_crf(crf)
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
    """The FFmpeg names of the encoders salcodec drives (what ``--codec`` takes)."""
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


def parse_params(text: str | None, dashes: bool = False) -> dict[str, str]:
    """Parse ``K=V:K=V`` into a dict; a bare key means ``1``.

    With ``dashes`` (:attr:`Codec.dash_params`: x264 and x265, whose parsers
    read ``aq_mode`` and ``aq-mode`` alike) every ``_`` in a key is written
    ``-``, so the checks see every spelling in one form. Without it keys are
    kept as typed: FFmpeg's AVOptions (libvpx-vp9) are matched exactly, and
    ``keyint_min`` is not ``keyint-min``.
    """
    params: dict[str, str] = {}
    for item in (text or "").split(":"):
        if not item:
            continue
        key, _, value = item.partition("=")
        key = key.strip()
        params[key.replace("_", "-") if dashes else key] = value.strip() if _ else "1"
    return params


def refuse_conflicts(params: dict[str, str], conflicts: dict[str, str],
                     flag: str = "--params") -> None:
    """Refuse a parameter that would override salcodec's own setting, saying what to do."""
    for key, value in params.items():
        if key in conflicts:
            raise SalcodecError(f"{flag} {key}={value} conflicts with salcodec's own "
                                f"setting; {conflicts[key]}")


def check_parsed(params: dict[str, str], parse: Callable[[str, str], int] | None,
                 flag: str, encoder: str) -> None:
    """Refuse what the encoder's own parser rejects: -1 an unknown key, < -1 a bad value.

    ``parse`` is x264's or x265's ``*_param_parse`` on fresh defaults (None when
    the library was not found: FFmpeg will still warn).
    """
    if parse is None:
        return
    for key, value in params.items():
        code = parse(key, value)
        if code == -1:
            raise SalcodecError(f"{flag}: unknown {encoder} parameter {key!r}")
        if code < 0:
            raise SalcodecError(f"{flag}: invalid value {value!r} for {encoder} parameter "
                                f"{key!r}")


def bundled_cdll(stem: str, signatures: dict, optional: dict | None = None):
    """PyAV's bundled ``lib<stem>`` through ctypes with these function signatures, or None.

    ``signatures`` maps a function name to ``(argtypes, restype)``; a library
    without one of them (or none found) gives None. ``optional`` functions are
    declared only where the library has them.
    """
    import ctypes

    path = bundled_library(stem)
    if not path:
        return None
    try:
        lib = ctypes.CDLL(path)
        for name, (argtypes, restype) in signatures.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = argtypes, restype
    except (OSError, AttributeError):
        return None
    for name, (argtypes, restype) in (optional or {}).items():
        if hasattr(lib, name):
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = argtypes, restype
    return lib


def number(text: str, key: str, codec: str) -> float:
    """A parameter's value as a number, or a one-line error naming it."""
    try:
        return float(text)
    except ValueError:
        raise SalcodecError(f"{codec} parameter {key}={text!r} is not a number") from None


def bundled_library(stem: str) -> str | None:
    """Path of the shared library ``lib<stem>`` that PyAV's wheel bundles (or the system's).

    The encoders' own parameter parsers are called through it (ctypes), so a
    parameter is checked by the library that will read it; the ROI bridge
    loads PyAV's libavutil the same way. None when there is none.
    """
    import ctypes.util
    import glob
    from pathlib import Path

    pkg = Path(av.__file__).resolve().parent
    patterns = [
        pkg.parent / "av.libs" / f"lib{stem}*.so*",  # Linux wheels (auditwheel)
        pkg / ".dylibs" / f"lib{stem}*.dylib",  # macOS wheels (delocate)
        pkg.parent / "av.libs" / f"{stem}*.dll",  # Windows wheels (delvewheel)
        pkg.parent / "av.libs" / f"lib{stem}*.dll",
    ]
    for pattern in patterns:
        found = sorted(glob.glob(str(pattern)))
        if found:
            return found[0]
    # PyAV built against a system FFmpeg: the system library is the one it uses.
    return ctypes.util.find_library(stem)


def add_video_stream(container: av.container.OutputContainer, codec: str, width: int,
                     height: int, rate: Fraction | None, time_base: Fraction | None, *,
                     crf: float = 23, preset: str = "medium", params: str | None = None,
                     roi_enabled: bool = True, pix_fmt: str = "yuv420p") -> av.VideoStream:
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


__all__ = ["PIX_FMTS", "PRESETS", "REFUSED", "Codec", "add_video_stream", "bundled_library",
           "codec_names", "codecs", "get_codec", "number", "parse_params", "refuse_conflicts"]
