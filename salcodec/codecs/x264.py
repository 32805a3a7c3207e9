"""libx264 through PyAV: options checked so ROI offsets are never silently dropped."""

from __future__ import annotations

import ctypes
import functools
import warnings
from fractions import Fraction

import av

from ..errors import SalcodecError, SalcodecWarning
from . import (
    PRESETS,
    Codec,
    add_video_stream,
    bundled_cdll,
    check_parsed,
    number,
    parse_params,
    refuse_conflicts,
)

#: x264 parameters that would override salcodec's own settings, with what to do instead.
CONFLICTS = {
    "crf": "set it with --crf", "qp": "salcodec encodes at constant rate factor: use --crf",
    "qp-constant": "salcodec encodes at constant rate factor: use --crf",
    "bitrate": "salcodec encodes at constant rate factor: use --crf",
    "preset": "set it with --preset",
    "tune": "an x264 tune is a bundle of parameters: give those parameters instead",
    "profile": "the profile follows from the parameters (8-bit 4:2:0 gives High)",
}


def check_x264_params(params: dict[str, str]) -> None:
    """Refuse parameters libx264 does not know or that conflict with salcodec's flags.

    FFmpeg's libx264 wrapper only logs a warning for a parameter x264 rejects,
    so an unknown key or a bad value would be silently ignored. Each pair is
    checked here with libx264's own parser (``x264_param_parse``, from the
    library PyAV's wheel bundles), so the answer is x264's.
    """
    refuse_conflicts(params, CONFLICTS, "--x264-params")
    check_parsed(params, _x264_parser(), "--x264-params", "x264")


def _x264_parser():
    """A function ``(key, value) -> x264_param_parse's code`` on fresh defaults, or None."""
    lib = _load_x264()
    if lib is None:
        return None

    def parse(key: str, value: str) -> int:
        # x264_param_t is about 1 KB in build 165; a zeroed 16 KB buffer is ample.
        buf = ctypes.create_string_buffer(16384)
        lib.x264_param_default(buf)
        try:
            return int(lib.x264_param_parse(buf, key.encode(), value.encode()))
        finally:
            if hasattr(lib, "x264_param_cleanup"):
                lib.x264_param_cleanup(buf)

    return parse


@functools.cache  # one library handle per process (loading twice would be harmless)
def _load_x264():
    ptr, text = ctypes.c_void_p, ctypes.c_char_p
    return bundled_cdll("x264", {"x264_param_default": ([ptr], None),
                                 "x264_param_parse": ([ptr, text, text], ctypes.c_int)},
                        optional={"x264_param_cleanup": ([ptr], None)})


class _CpuName(ctypes.Structure):
    # x264.h: typedef struct { const char *name; uint32_t flags; } x264_cpu_name_t;
    _fields_ = [("name", ctypes.c_char_p), ("flags", ctypes.c_uint32)]


def cpu_capabilities() -> tuple[int, int] | None:
    """x264's own CPU detection and its AVX-512 bit: ``(x264_cpu_detect(), bit)``.

    Read from the libx264 PyAV bundles (``x264_cpu_detect`` and the
    ``x264_cpu_names`` table, whose entries carry every level they imply: the
    AVX-512 bit is AVX512's flags without AVX2's). None where the library or
    those symbols are missing, or x264 knows no AVX-512 (not x86).
    """
    lib = _load_x264()
    if lib is None or not hasattr(lib, "x264_cpu_detect"):
        return None
    try:
        table = (_CpuName * 64).in_dll(lib, "x264_cpu_names")
    except ValueError:
        return None
    flags = {}
    for entry in table:
        if not entry.name:
            break
        flags[entry.name.decode()] = entry.flags
    bit = flags.get("AVX512", 0) & ~flags.get("AVX2", 0)
    if not bit:
        return None
    lib.x264_cpu_detect.argtypes, lib.x264_cpu_detect.restype = [], ctypes.c_uint32
    return int(lib.x264_cpu_detect()), int(bit)


@functools.cache
def asm_below_avx512() -> str | None:
    """x264's ``asm`` value for this CPU without AVX-512, where it has AVX-512; else None.

    With ROI offsets and MB-tree, libx264's AVX-512 code made the bitstream
    depend on the process's memory, not only on its input: the same frames
    with the same offsets, single-threaded, gave up to three different
    bitstreams over seven runs whose heaps differed (a batch, or anything
    allocated before). Without the offsets, or with x264 held to AVX2 or to
    plain C, every run gave the same bytes; holding it below AVX-512 cost
    nothing beyond the run-to-run spread in interleaved 720p encodes
    (benchmarks/RESULTS.md, Determinism and Cost). The value is x264's own
    detection (:func:`cpu_capabilities`) with the AVX-512 bit cleared, as a
    number, which ``x264_param_parse`` takes as the CPU mask.
    """
    caps = cpu_capabilities()
    if caps is None or not caps[0] & caps[1]:
        return None
    return str(caps[0] & ~caps[1])


def _sets_asm(params: dict[str, str]) -> bool:
    # asm, no-asm, noasm (x264 reads "no" with or without a dash as a negation).
    return any(k.removeprefix("no").removeprefix("-") == "asm" for k in params)


def x264_options(crf: float = 23, preset: str = "medium", x264_params: str | None = None,
                 roi_enabled: bool = True) -> dict[str, str]:
    """libx264 AVOptions for PyAV, checked so that ROI offsets are not silently dropped.

    Measured with this x264: the offsets are ignored when aq-mode is 0 (the
    ultrafast preset's default), and also when aq-strength is 0 without MB-tree
    (ultrafast, superfast, mbtree=0 or rc-lookahead=0). The first is fixed with
    a warning for the ultrafast preset; explicit settings that drop the offsets
    are refused, and so are parameters x264 does not know or that override
    ``crf``/``preset`` (see :func:`check_x264_params`).
    """
    if preset not in PRESETS:
        raise SalcodecError(f"unknown x264 preset {preset!r}; choose from {', '.join(PRESETS)}")
    CODEC.check_crf(crf)
    params = parse_params(x264_params, CODEC.dash_params)
    check_x264_params(params)
    if roi_enabled:
        aq_mode = params.get("aq-mode")
        if aq_mode == "0":
            raise SalcodecError(
                "x264 aq-mode=0 makes libx264 ignore the saliency offsets; use aq-mode=1 "
                "(with aq-strength=0 to disable variance AQ) or pass --no-saliency"
            )
        if aq_mode is None and preset == "ultrafast":
            warnings.warn("preset ultrafast turns adaptive quantisation off, which drops the "
                          "saliency offsets; setting aq-mode=1", SalcodecWarning, stacklevel=2)
            params["aq-mode"] = "1"
        mbtree_off = (preset in ("ultrafast", "superfast") and params.get("mbtree") != "1"
                      or params.get("mbtree") == "0" or params.get("no-mbtree") == "1"
                      or params.get("rc-lookahead") == "0")
        if number(params.get("aq-strength", "1"), "aq-strength", "x264") == 0 and mbtree_off:
            raise SalcodecError(
                "x264 aq-strength=0 without MB-tree makes libx264 ignore the saliency "
                "offsets; keep MB-tree on or use a small aq-strength such as 0.1"
            )
        asm = asm_below_avx512()
        if asm and not _sets_asm(params):
            params["asm"] = asm  # same input, same bytes (see asm_below_avx512)
    opts = {"crf": f"{crf:g}", "preset": preset}
    if params:
        opts["x264-params"] = ":".join(f"{k}={v}" for k, v in params.items())
    return opts


def add_h264_stream(container: av.container.OutputContainer, width: int, height: int,
                    rate: Fraction | None, time_base: Fraction | None, *, crf: float = 23,
                    preset: str = "medium", x264_params: str | None = None,
                    roi_enabled: bool = True, pix_fmt: str = "yuv420p") -> av.VideoStream:
    """Add a libx264 stream (even size) to an output container you own.

    The H.264 spelling of :func:`salcodec.codecs.add_video_stream`.
    """
    return add_video_stream(container, "libx264", width, height, rate, time_base, crf=crf,
                            preset=preset, params=x264_params, roi_enabled=roi_enabled,
                            pix_fmt=pix_fmt)


CODEC = Codec(
    name="libx264", label="H.264", decoded="h264", crf_max=51, crf_integer=False, levels=None,
    truncates=False, qp_export=None, containers=frozenset(
        {"mp4", "mov", "matroska", "mpegts", "nut"}),
    options=x264_options, dash_params=True,
    roi_drops="aq-mode=0 (refused; preset ultrafast gets aq-mode=1 with a warning), "
              "aq-strength=0 without MB-tree (refused)",
)
