"""FFmpeg's own quality filters through PyAV, as an independent cross-check.

:func:`ffmpeg_metrics` feeds frame pairs into an ``av.filter.Graph`` with two
buffer sources, FFmpeg's ``psnr``, ``ssim`` and/or ``xpsnr`` filter and a
buffersink, and reads the per-frame values the filters attach as frame metadata
(``lavfi.psnr.psnr.y``, ``lavfi.ssim.Y``, ``lavfi.xpsnr.xpsnr.y``, ...). The
values are printed by FFmpeg with six decimals, so agreement is limited to
about 1e-6.

:func:`vmaf_status` says whether VMAF can be computed in this environment.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from fractions import Fraction

import av

from .video import FramePair, frame_planes

#: FFmpeg filters this module knows how to read, and their metadata keys.
FILTER_KEYS = {
    "psnr": {
        "psnr_y": "lavfi.psnr.psnr.y",
        "psnr_u": "lavfi.psnr.psnr.u",
        "psnr_v": "lavfi.psnr.psnr.v",
        "psnr_avg": "lavfi.psnr.psnr_avg",
        "mse_y": "lavfi.psnr.mse.y",
    },
    "ssim": {
        "ssim_y": "lavfi.ssim.Y",
        "ssim_u": "lavfi.ssim.U",
        "ssim_v": "lavfi.ssim.V",
        "ssim_all": "lavfi.ssim.All",
    },
    "xpsnr": {
        "xpsnr_y": "lavfi.xpsnr.xpsnr.y",
        "xpsnr_u": "lavfi.xpsnr.xpsnr.u",
        "xpsnr_v": "lavfi.xpsnr.xpsnr.v",
    },
}
#: Filters whose first input is the reference (xpsnr weights by the first input's activity).
_REFERENCE_FIRST = {"xpsnr"}


def _graph(name: str, width: int, height: int, pix_fmt: str, fps: Fraction | None = None):
    graph = av.filter.Graph()
    kwargs = {"video_size": f"{width}x{height}", "pix_fmt": str(int(av.VideoFormat(pix_fmt))),
              "time_base": "1/1", "pixel_aspect": "1/1"}
    if fps:  # xpsnr's temporal term depends on the link's frame rate
        kwargs["frame_rate"] = str(Fraction(fps).limit_denominator(1_000_000))
    main = graph.add("buffer", **kwargs)
    ref = graph.add("buffer", **kwargs)
    filt = graph.add(name)
    sink = graph.add("buffersink")
    # psnr/ssim are symmetric (inputs: main = distorted, reference); xpsnr
    # takes the original first ("main") and the distorted second.
    first, second = (ref, main) if name in _REFERENCE_FIRST else (main, ref)
    first.link_to(filt, 0, 0)
    second.link_to(filt, 0, 1)
    filt.link_to(sink)
    graph.configure()
    return graph, main, ref


def _retag(frame: av.VideoFrame, pix_fmt: str) -> av.VideoFrame:
    """Copy the 4:2:0 planes into a frame of another 4:2:0 format, values untouched.

    yuv420p and yuvj420p differ only in the range tag; reformat() would
    rescale the values, and salcodec compares them as stored.
    """
    out = av.VideoFrame(frame.width, frame.height, pix_fmt)
    for dst, src in zip(frame_planes(out), frame_planes(frame), strict=True):
        dst[...] = src
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


def _value(text: str) -> float:
    return float("inf") if text.strip() in ("inf", "+inf") else float(text)


def ffmpeg_metrics(
    pairs: Iterable[FramePair],
    filters: Iterable[str] = ("psnr", "ssim"),
    fps: float | Fraction | None = None,
) -> list[dict[str, float]]:
    """Per-frame values from FFmpeg's ``psnr``/``ssim``/``xpsnr`` filters.

    Parameters
    ----------
    pairs : iterable of FramePair
        Aligned frames, e.g. from :class:`~salcodec.quality.video.FrameAligner`.
        Frames are re-stamped 0, 1, 2... so repeated distorted frames are fine.
    filters : iterable of {"psnr", "ssim", "xpsnr"}
    fps : float or Fraction, optional
        Frame rate given to the filters (xpsnr uses a second-order temporal
        difference from 32 fps; unset counts as 0).

    Returns
    -------
    list of dict
        One dict per pair with the keys of :data:`FILTER_KEYS` for each filter.
    """
    filters = list(filters)
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f"unsupported FFmpeg filter(s): {', '.join(sorted(unknown))}")
    graphs = None
    out: list[dict[str, float]] = []
    for i, pair in enumerate(pairs):
        r, d = pair.ref.frame, pair.dist.frame
        if d.format.name != r.format.name:
            d = _retag(d, r.format.name)
        if graphs is None:
            graphs = [(name, *_graph(name, r.width, r.height, r.format.name, fps))
                      for name in filters]
        row: dict[str, float] = {}
        for name, graph, main, ref in graphs:
            # Re-stamp in place: the filters need increasing pts, our pairs keep
            # their own times, and push() takes a new reference to the frame.
            r.pts = d.pts = i
            r.time_base = d.time_base = Fraction(1, 1)
            main.push(d)
            ref.push(r)
            meta = graph.pull().metadata
            for key, mkey in FILTER_KEYS[name].items():
                row[key] = _value(meta[mkey])
        out.append(row)
    return out


def vmaf_status() -> tuple[bool, str]:
    """Whether VMAF can be computed here, and why not.

    VMAF needs libvmaf: either FFmpeg's ``libvmaf`` filter (absent from the
    FFmpeg inside PyAV's wheels) or the ``pyvmaf`` binding, whose PyPI source
    package is only a binding that links against a system libvmaf (not
    packaged in Debian 12). salcodec does not yet drive either; the result
    always says why.
    """
    has_filter = "libvmaf" in av.filter.filters_available
    has_pyvmaf = importlib.util.find_spec("pyvmaf") is not None
    if not has_filter and not has_pyvmaf:
        return False, (
            "the FFmpeg inside PyAV has no libvmaf filter, and pyvmaf on PyPI is only a "
            "binding to a system libvmaf, which is not installed"
        )
    found = "FFmpeg's libvmaf filter" if has_filter else "pyvmaf"
    return False, f"{found} is present but salcodec has no VMAF driver for it yet"
