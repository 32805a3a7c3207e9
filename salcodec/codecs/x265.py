"""libx265 (HEVC) through PyAV: options checked so ROI offsets are never silently dropped.

FFmpeg's libx265.c turns the ROI side data into x265's ``quantOffsets`` (one
float per 16x16 block, 8x8 with ``qg-size=8``; ``qoffset x (51 + 6 x
(bit depth - 8))`` QP) and skips them, with one warning, when x265's
``aq-mode`` is 0. Measured with the x265 PyAV bundles (build 216), encoding the
same clip with and without a -15 QP region: the output is byte-identical, so
the offsets are dropped, with ``aq-mode=0``, the ``ultrafast`` and ``superfast``
presets (their AQ is off), ``tune=grain`` (AQ off) and ``aq-strength=0``
together with ``cutree=0``; ``aq-strength=0`` alone and ``tune=psnr`` keep them.
"""

from __future__ import annotations

import ctypes
import functools
import warnings

from ..errors import SalcodecError, SalcodecWarning
from . import (
    PRESETS,
    Codec,
    bundled_cdll,
    check_parsed,
    number,
    parse_params,
    refuse_conflicts,
)

#: Presets whose defaults switch AQ off, which drops the offsets (measured).
AQ_OFF_PRESETS = ("ultrafast", "superfast")

#: x265 parameters that would override salcodec's own settings, with what to do instead.
CONFLICTS = {
    "crf": "set it with --crf", "qp": "salcodec encodes at constant rate factor: use --crf",
    "bitrate": "salcodec encodes at constant rate factor: use --crf",
    "preset": "set it with --preset",
    "tune": "an x265 tune is a bundle of parameters (grain turns AQ off, which drops the "
            "offsets): give those parameters instead",
    "input-depth": "the bit depth follows --pix-fmt", "output-depth": "use --pix-fmt",
    "input-csp": "salcodec writes 4:2:0", "lossless": "salcodec encodes at constant rate "
                                                      "factor: use --crf",
}


def check_x265_params(params: dict[str, str]) -> None:
    """Refuse parameters libx265 does not know or that conflict with salcodec's flags.

    FFmpeg's libx265 wrapper only logs a warning for a parameter x265 rejects,
    so each pair is checked here with x265's own ``x265_param_parse`` (from the
    library PyAV's wheel bundles).
    """
    refuse_conflicts(params, CONFLICTS)
    check_parsed(params, _x265_parser(), "--params", "x265")


def _x265_parser():
    """A function ``(key, value) -> x265_param_parse's code`` on fresh defaults, or None."""
    lib = _load_x265()
    if lib is None:
        return None

    def parse(key: str, value: str) -> int:
        param = lib.x265_param_alloc()
        if not param:
            raise MemoryError("x265_param_alloc failed")
        try:
            lib.x265_param_default(param)
            return int(lib.x265_param_parse(param, key.encode(), value.encode()))
        finally:
            lib.x265_param_free(param)

    return parse


@functools.cache  # one library handle per process (loading twice would be harmless)
def _load_x265():
    ptr, text = ctypes.c_void_p, ctypes.c_char_p
    return bundled_cdll("x265", {
        "x265_param_alloc": ([], ptr), "x265_param_free": ([ptr], None),
        "x265_param_default": ([ptr], None),
        "x265_param_parse": ([ptr, text, text], ctypes.c_int)})


def x265_options(crf: float = 23, preset: str = "medium", params: str | None = None,
                 roi_enabled: bool = True) -> dict[str, str]:
    """libx265 AVOptions for PyAV, checked so that ROI offsets are not silently dropped.

    ``aq-mode=0`` and ``aq-strength=0`` with ``cutree=0`` are refused; the
    ultrafast and superfast presets, whose AQ is off, get ``aq-mode=1`` with a
    warning. x265's own log goes to stderr, so it is limited to errors unless
    ``log-level`` is given. ``crf`` defaults to 23, salcodec's default for
    every encoder (:class:`salcodec.settings.EncodeSettings`), not x265's 28.
    """
    if preset not in PRESETS:
        raise SalcodecError(f"unknown x265 preset {preset!r}; choose from {', '.join(PRESETS)}")
    CODEC.check_crf(crf)
    given = parse_params(params, CODEC.dash_params)
    check_x265_params(given)
    if roi_enabled:
        aq_mode = given.get("aq-mode")
        if aq_mode == "0":
            raise SalcodecError(
                "x265 aq-mode=0 makes libx265 ignore the saliency offsets; use aq-mode=1 "
                "(with aq-strength=0 to disable variance AQ) or pass --no-saliency"
            )
        if aq_mode is None and preset in AQ_OFF_PRESETS:
            warnings.warn(f"x265 preset {preset} turns adaptive quantisation off, which drops "
                          "the saliency offsets; setting aq-mode=1", SalcodecWarning,
                          stacklevel=2)
            given["aq-mode"] = "1"
        cutree_off = given.get("cutree") == "0" or given.get("no-cutree") == "1"
        if number(given.get("aq-strength", "1"), "aq-strength", "x265") == 0 and cutree_off:
            raise SalcodecError(
                "x265 aq-strength=0 without cutree makes libx265 ignore the saliency offsets; "
                "keep cutree on or use a small aq-strength such as 0.1"
            )
    given.setdefault("log-level", "error")
    return {"crf": f"{crf:g}", "preset": preset,
            "x265-params": ":".join(f"{k}={v}" for k, v in given.items())}


CODEC = Codec(
    name="libx265", label="HEVC", decoded="hevc", crf_max=51, crf_integer=False, levels=None,
    truncates=False,
    qp_export="FFmpeg's HEVC decoder exports no per-block QP (export_side_data=venc_params "
              "does for H.264 and VP9)",
    containers=frozenset({"mp4", "mov", "matroska", "mpegts", "nut"}),
    options=x265_options, dash_params=True,
    roi_drops="aq-mode=0 (refused; presets ultrafast and superfast get aq-mode=1 with a "
              "warning), tune (refused: grain turns AQ off), aq-strength=0 with cutree=0 "
              "(refused)",
)
