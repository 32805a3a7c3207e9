"""libvpx-vp9 through PyAV: the one mode in which libvpx applies ROI offsets.

FFmpeg's libvpxenc.c maps the ROI side data onto VP9 segments: 8 segments of
8x8 blocks, segment 0 reserved for "no offset", so at most 7 distinct
non-zero offsets per frame (later ones are skipped with a warning), each
``trunc(qoffset x 63)`` on VP9's 0..63 quantiser scale (the scale of its
``crf``). It passes the map to libvpx only when ``aq-mode`` is not above 0,
``cpu-used >= 5`` and ``deadline=realtime`` (otherwise one warning), and
libvpx's ``apply_roi_map`` (vp9_encoder.c) itself returns early unless the
mode is realtime and the speed at least 5. Measured with the libvpx PyAV
bundles: with ``deadline=good`` or ``cpu-used=4`` the output is byte-identical
with and without a -15 region; at realtime speed 5 and 8 the region's decoded
q index falls from 146 to 98.

So salcodec always encodes VP9 in realtime mode at speed 5..9 with
``aq-mode=0`` (in both arms of a comparison unless ``--params`` sets it:
libvpx's own default is not 0, measured: its output differs from
``aq-mode=0``'s), constant quality (``crf`` with ``b=0``), and ``--preset`` picks
the speed: a number 5..9, or an x264 preset name (medium and slower = 5,
fast = 6, faster = 7, veryfast = 8, superfast and ultrafast = 9). Slower
speeds (0..4), or another mode, are accepted only with ``--no-saliency``.
``--params`` keys are FFmpeg's libvpx-vp9 AVOptions, taken as typed
(``aq-mode``, ``lag-in-frames``, ``keyint_min``).
"""

from __future__ import annotations

import functools
from fractions import Fraction

import av

from ..errors import SalcodecError
from . import Codec, number, parse_params, refuse_conflicts

#: x264 preset names and the libvpx realtime speed (cpu-used) each stands for.
SPEEDS = {"placebo": 5, "veryslow": 5, "slower": 5, "slow": 5, "medium": 5, "fast": 6,
          "faster": 7, "veryfast": 8, "superfast": 9, "ultrafast": 9}
#: Slowest realtime speed at which libvpx applies ROI (vp9_encoder.c, apply_roi_map).
ROI_MIN_SPEED = 5

#: libvpx-vp9 options that would override salcodec's own settings, with what to do instead.
CONFLICTS = {
    "crf": "set it with --crf", "b": "salcodec encodes at constant quality: use --crf",
    "deadline": "salcodec encodes VP9 in realtime mode, the only one in which libvpx applies "
                "ROI; choose the speed with --preset",
    "quality": "salcodec encodes VP9 in realtime mode, the only one in which libvpx applies "
               "ROI; choose the speed with --preset",
    "cpu-used": "choose the speed with --preset (5..9)", "speed": "choose it with --preset",
    "lossless": "salcodec encodes at constant quality: use --crf",
}


def speed(preset: str, roi_enabled: bool = True) -> int:
    """The libvpx ``cpu-used`` a ``--preset`` stands for (ROI needs 5 or more)."""
    if preset in SPEEDS:
        return SPEEDS[preset]
    try:
        value = int(preset)
    except ValueError:
        raise SalcodecError(f"unknown VP9 preset {preset!r}; give a realtime speed 5..9 or one "
                            f"of {', '.join(SPEEDS)}") from None
    if not -9 <= value <= 9:
        raise SalcodecError(f"VP9 speed (--preset) must be within 5..9 (-9..9 with "
                            f"--no-saliency), got {value}")
    if roi_enabled and value < ROI_MIN_SPEED:
        raise SalcodecError(f"VP9 --preset {value}: libvpx applies ROI only at realtime speed "
                            f"{ROI_MIN_SPEED} or above and would drop the saliency offsets; use "
                            "5..9 or pass --no-saliency")
    return value


def check_vp9_params(params: dict[str, str], roi_enabled: bool = True) -> None:
    """Refuse options libvpx-vp9 does not know, bad values, and those that drop ROI.

    The names and values are checked by FFmpeg itself: a small encoder is
    opened with them (cached per parameter set).
    """
    refuse_conflicts(params, CONFLICTS)
    if roi_enabled and "aq-mode" in params and number(params["aq-mode"], "aq-mode", "VP9") > 0:
        raise SalcodecError(f"VP9 aq-mode={params['aq-mode']}: FFmpeg hands libvpx the ROI map "
                            "only with aq-mode=0, so the saliency offsets would be dropped; "
                            "leave aq-mode out or pass --no-saliency")
    problem = _ffmpeg_check(tuple(sorted(params.items())))
    if problem:
        raise SalcodecError(problem)


@functools.lru_cache(maxsize=64)
def _ffmpeg_check(items: tuple[tuple[str, str], ...]) -> str | None:
    if not items:
        return None
    cc = av.CodecContext.create("libvpx-vp9", "w")
    cc.width, cc.height, cc.pix_fmt = 64, 64, "yuv420p"
    cc.time_base = Fraction(1, 25)
    cc.options = {"b": "0", "crf": "30", "deadline": "realtime", "cpu-used": "8", **dict(items)}
    try:
        cc.open()
    except (av.error.FFmpegError, ValueError) as exc:
        cause = getattr(exc, "strerror", None) or exc
        return f"--params: libvpx-vp9 refuses {':'.join(f'{k}={v}' for k, v in items)} ({cause})"
    unknown = sorted(set(cc.options) & {k for k, _ in items})
    if unknown:
        return f"--params: unknown libvpx-vp9 option(s) {', '.join(map(repr, unknown))}"
    return None


def vp9_options(crf: float = 23, preset: str = "medium", params: str | None = None,
                roi_enabled: bool = True) -> dict[str, str]:
    """libvpx-vp9 AVOptions for PyAV: realtime, speed >= 5, aq-mode 0, constant quality.

    ``crf`` defaults to 23, salcodec's default for every encoder
    (:class:`salcodec.settings.EncodeSettings`). ``aq-mode=0`` is set for the
    baseline too (``roi_enabled=False``) unless ``params`` gives one, so a
    comparison of the two arms measures the ROI alone.
    """
    CODEC.check_crf(crf)
    cpu_used = speed(preset, roi_enabled)
    given = parse_params(params, CODEC.dash_params)
    check_vp9_params(given, roi_enabled)
    opts = {"crf": str(int(crf)), "b": "0", "deadline": "realtime", "cpu-used": str(cpu_used),
            # The ROI needs libvpx's segments (cyclic refresh would take them), and
            # libvpx's default is not 0: the baseline gets the same.
            "aq-mode": "0"}
    opts.update(given)
    return opts


CODEC = Codec(
    name="libvpx-vp9", label="VP9", decoded="vp9", crf_max=63, crf_integer=True, levels=7,
    truncates=True, qp_export=None,
    containers=frozenset({"mp4", "matroska", "webm", "nut"}),
    options=vp9_options,
    roi_drops="any mode but realtime at speed >= 5 (salcodec always uses realtime; --preset "
              "below 5 refused), aq-mode > 0 (refused); at most 7 distinct offsets per frame "
              "(salcodec merges levels to fit)",
)
