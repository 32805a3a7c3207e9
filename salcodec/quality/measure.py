"""Measure a distorted video against its reference: per-frame metrics and pooled summaries."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import SalcodecError
from . import metrics as M
from .ffmpeg import vmaf_status
from .video import Alignment, FrameAligner, StreamInfo, is_even_padding
from .weights import WeightSpec, parse_weights
from .xpsnr import XPSNR, pool_xpsnr

#: JSON schema identifier; bump when fields change meaning or disappear.
SCHEMA = "salcodec.quality/1"
#: PSNR of identical frames is capped here so that means and BD-rates stay finite.
PSNR_MAX_DB = 100.0

#: Metric name -> one-line definition (also written into the JSON output).
METRICS: dict[str, str] = {
    "psnr": "luma PSNR, 10 log10(255^2 / MSE_Y), dB, capped at 100",
    "psnr_yuv": "(6 PSNR_Y + PSNR_U + PSNR_V) / 8 of per-plane PSNRs (JVET CTC), dB",
    "ssim": "luma SSIM, 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03, "
    "mean over window positions inside the frame (Wang et al. 2004)",
    "ssim_8x8": "luma SSIM as FFmpeg's ssim filter: 8x8 box windows every 4 pixels",
    "xpsnr": "luma XPSNR as FFmpeg's xpsnr filter: block SSE weighted by the inverse of "
    "the reference's spatio-temporal activity (Helmrich et al.), dB, capped at 100",
    "wpsnr": "weighted luma PSNR, 10 log10(255^2 / (sum w e^2 / sum w)), dB, capped at 100",
    "wssim": "weighted luma SSIM, sum w ssim_map / sum w (Gaussian SSIM map)",
    "wxpsnr": "weighted luma XPSNR: each pixel's squared error times w / mean(w) before "
    "XPSNR's block weighting, dB, capped at 100",
}
#: Extra per-frame columns some metrics add.
_EXTRA_COLUMNS = {"psnr_yuv": ["psnr_u", "psnr_v"], "xpsnr": ["xpsnr_u", "xpsnr_v"]}
DEFAULT_METRICS = ("psnr", "psnr_yuv", "ssim", "xpsnr")
WEIGHTED_METRICS = ("wpsnr", "wssim", "wxpsnr")
#: Metrics that cannot be computed here (name -> why), refused with one line.
UNAVAILABLE_METRICS = ("vmaf",)
#: Per-frame fields that are not metric values.
FRAME_FIELDS = ("frame", "dist_frame", "time")


def resolve_metrics(metrics: str | Iterable[str] | None, have_weights: bool) -> list[str]:
    """Validate a metric list (or comma-separated string), in canonical order.

    ``None`` means the defaults, plus the weighted metrics when weights are
    given. ``"all"`` means every metric (weighted ones only with weights).
    """
    if metrics is None:
        names = list(DEFAULT_METRICS) + (list(WEIGHTED_METRICS) if have_weights else [])
    else:
        if isinstance(metrics, str):
            metrics = metrics.split(",")
        names = [m.strip().lower() for m in metrics if m.strip()]
        if "all" in names:
            names = [m for m in METRICS if have_weights or m not in WEIGHTED_METRICS]
    refused = [m for m in names if m in UNAVAILABLE_METRICS]
    if refused:
        raise SalcodecError(vmaf_error())
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise SalcodecError(
            f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}"
        )
    if not names:
        raise SalcodecError("no metrics requested")
    weighted = [m for m in names if m in WEIGHTED_METRICS]
    if weighted and not have_weights:
        verb = "needs" if len(weighted) == 1 else "need"
        raise SalcodecError(f"{', '.join(weighted)} {verb} weights (--weights SPEC)")
    return [m for m in METRICS if m in names]


def vmaf_error() -> str:
    """The one-line reason VMAF is refused (for ``--metrics vmaf`` and ``--target vmaf=``)."""
    _, reason = vmaf_status()
    return (f"vmaf is unavailable: {reason}; use xpsnr (perceptually weighted PSNR, "
            "FFmpeg's xpsnr filter) instead")


def _clean(value):
    """JSON-safe copy: non-finite floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.10g}"
    return str(value)


@dataclass
class QualityResult:
    """Outcome of :func:`measure`.

    Attributes
    ----------
    ref, dist : StreamInfo
        The inputs as read (size, pixel format, rate, frame count).
    alignment : Alignment
        How frames were paired, and what was left over.
    metrics : list of str
        Metrics computed (requested minus unavailable).
    columns : list of str
        Value columns of each per-frame record (metrics plus extras such as
        ``psnr_u``/``psnr_v``).
    per_frame : list of dict
        One record per compared frame: ``frame`` (reference index),
        ``dist_frame`` (distorted index), ``time`` (s from the first
        reference frame) and one float per column.
    summary : dict
        Column -> :func:`salcodec.quality.metrics.pool` summary.
    weights : dict or None
        Description of the weight maps (see :meth:`WeightSource.describe`).
    unavailable : dict
        Requested metric -> reason it could not be computed.
    """

    ref: StreamInfo
    dist: StreamInfo
    alignment: Alignment
    metrics: list[str]
    columns: list[str]
    per_frame: list[dict] = field(default_factory=list)
    summary: dict[str, dict] = field(default_factory=dict)
    weights: dict | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    @property
    def frames_compared(self) -> int:
        return len(self.per_frame)

    def values(self, column: str) -> np.ndarray:
        """Per-frame values of one column as a float64 array."""
        if column not in self.columns:
            raise KeyError(f"{column!r} not measured; have {', '.join(self.columns)}")
        return np.array([r[column] for r in self.per_frame], dtype=np.float64)

    def to_dict(self) -> dict:
        """The JSON document (schema ``salcodec.quality/1``, see docs/quality.md)."""
        return _clean(
            {
                "schema": SCHEMA,
                "ref": self.ref.to_dict(),
                "dist": self.dist.to_dict(),
                "frames_compared": self.frames_compared,
                "alignment": self.alignment.to_dict(),
                "metrics": list(self.metrics),
                "definitions": {m: METRICS[m] for m in self.metrics},
                "unavailable": dict(self.unavailable),
                "weights": self.weights,
                "settings": dict(self.settings),
                "summary": self.summary,
                "per_frame": self.per_frame,
            }
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv(self, layout: str = "long") -> str:
        """CSV text.

        ``layout="long"`` (tidy): one row per frame and column, fields
        ``frame,dist_frame,time,metric,value``. ``layout="wide"``: one row per
        frame, fields ``frame,dist_frame,time`` then one per column. Non-finite
        values are written as empty fields.
        """
        if layout not in ("long", "wide"):
            raise ValueError(f"layout must be 'long' or 'wide', got {layout!r}")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if layout == "wide":
            w.writerow([*FRAME_FIELDS, *self.columns])
            for r in self.per_frame:
                w.writerow([_fmt(r[k]) for k in (*FRAME_FIELDS, *self.columns)])
        else:
            w.writerow([*FRAME_FIELDS, "metric", "value"])
            for r in self.per_frame:
                head = [_fmt(r[k]) for k in FRAME_FIELDS]
                for c in self.columns:
                    w.writerow([*head, c, _fmt(r[c])])
        return buf.getvalue()


def scoring_threads() -> int:
    """Threads for scoring frames side by side: one per usable core, at most 4.

    The metrics' kernels (OpenCV, numba) release the GIL. Where Python cannot
    read the CPU affinity (macOS), the core count.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def score_frame(
    names: Sequence[str],
    ref_planes: tuple[np.ndarray, np.ndarray, np.ndarray],
    dist_planes: tuple[np.ndarray, np.ndarray, np.ndarray],
    weights: np.ndarray | None = None,
    xmeter: XPSNR | None = None,
    cap: float = PSNR_MAX_DB,
) -> dict[str, float]:
    """The values of ``names`` (and their extra columns) for one frame pair.

    ``weights`` (the frame's importance map) is needed for the weighted
    metrics, ``xmeter`` (an :class:`~salcodec.quality.xpsnr.XPSNR` fed every
    frame of the sequence in order) for xpsnr/wxpsnr. Used by :func:`measure`
    and by crf-search, so both score with one definition.
    """
    ry, ru, rv = ref_planes
    dy, du, dv = dist_planes
    rec: dict[str, float] = {}
    w = weights
    if "psnr" in names:
        rec["psnr"] = M.psnr(ry, dy, max_db=cap)
    if "psnr_yuv" in names:
        comb, _, pu, pv = M.psnr_yuv((ry, ru, rv), (dy, du, dv), max_db=cap)
        rec["psnr_yuv"], rec["psnr_u"], rec["psnr_v"] = comb, pu, pv
    smap = None
    if "ssim" in names or "wssim" in names:
        smap = M.ssim_map(ry, dy)
    if "ssim" in names:
        rec["ssim"] = float(smap.mean())
    if "ssim_8x8" in names:
        rec["ssim_8x8"] = M.ssim_8x8(ry, dy)
    if xmeter is not None:
        xv = xmeter((ry, ru, rv), (dy, du, dv),
                    saliency=w if "wxpsnr" in names else None)
        if "xpsnr" in names:
            rec["xpsnr"] = min(xv["y"], cap)
            rec["xpsnr_u"], rec["xpsnr_v"] = min(xv["u"], cap), min(xv["v"], cap)
        if "wxpsnr" in names:
            rec["wxpsnr"] = min(xv["wxpsnr"], cap)
    if w is not None:
        if "wpsnr" in names:
            rec["wpsnr"] = M.weighted_psnr(ry, dy, w, max_db=cap)
        if "wssim" in names:
            wc = M.crop_to_ssim_map(w)
            # All weight in the 5-pixel border: fall back to uniform.
            rec["wssim"] = (
                float(np.sum(wc * smap) / wc.sum()) if wc.sum() > 0
                else float(smap.mean())
            )
    return rec


def measure(
    ref: str | os.PathLike,
    dist: str | os.PathLike,
    metrics: str | Sequence[str] | None = None,
    weights: WeightSpec | str | None = None,
    *,
    max_frames: int | None = None,
    psnr_max_db: float = PSNR_MAX_DB,
    progress: Callable[[int], None] | None = None,
) -> QualityResult:
    """Compare a distorted video with its reference, frame by frame.

    Parameters
    ----------
    ref, dist : path-like
        Reference and distorted videos (first video stream of each). Frames
        are paired by presentation time (see :mod:`salcodec.quality.video`);
        differing lengths and rates are reported in ``result.alignment``.
    metrics : str or sequence of str, optional
        Names from :data:`METRICS` (or a comma-separated string, or ``"all"``).
        Default: psnr, psnr_yuv, ssim, plus wpsnr, wssim when ``weights`` is set.
    weights : WeightSpec or str, optional
        Importance maps for wpsnr/wssim, e.g. ``"model:lc"``,
        ``"fixations:fix.csv:sigma=20"`` (see :func:`parse_weights`).
    max_frames : int, optional
        Compare at most this many frame pairs.
    psnr_max_db : float
        Cap for PSNR-type values (identical frames would give infinity).
    progress : callable, optional
        Called with the number of pairs compared so far, after each pair.

    Returns
    -------
    QualityResult

    Raises
    ------
    SalcodecError
        Unknown metric, weighted metric without weights, bad weight spec,
        different frame sizes, unreadable input (:class:`InputError`).
    """
    spec = parse_weights(weights) if isinstance(weights, str) else weights
    names = resolve_metrics(metrics, spec is not None)
    unavailable: dict[str, str] = {}
    columns: list[str] = []
    for m in names:
        columns += [m, *_EXTRA_COLUMNS.get(m, [])]
    need_weights = any(m in WEIGHTED_METRICS for m in names)
    cap = psnr_max_db

    per_frame: list[dict] = []
    with FrameAligner(ref, dist, max_frames=max_frames) as aligner:
        info = aligner.ref.info
        d = aligner.dist.info
        known = min(info.width, info.height, d.width, d.height) > 0
        if known and (info.width, info.height) != (d.width, d.height) and not is_even_padding(
                (info.width, info.height), (d.width, d.height)):
            raise SalcodecError(
                f"{d.path}: frame size {d.width}x{d.height} differs from reference "
                f"{info.path} ({info.width}x{info.height}); scale one to match first"
            )
        source = spec.open(info.width, info.height, aligner.ref.fps) if need_weights else None
        xmeter = XPSNR(fps=aligner.ref.fps) if {"xpsnr", "wxpsnr"} & set(names) else None
        try:
            for pair in aligner:
                ry, ru, rv = pair.ref.planes()
                dy, du, dv = pair.dist.planes()
                rec: dict = {
                    "frame": pair.ref.index,
                    "dist_frame": pair.dist.index,
                    "time": round(pair.ref.time, 6),
                }
                w = source(pair) if source is not None else None
                rec.update(score_frame(names, (ry, ru, rv), (dy, du, dv), w, xmeter, cap))
                per_frame.append(rec)
                if progress is not None:
                    progress(len(per_frame))
        finally:
            if source is not None:
                source.close()
        if not per_frame:
            raise SalcodecError(f"{info.path}: no frames could be compared with {dist}")
        result = QualityResult(
            ref=aligner.ref.info,
            dist=aligner.dist.info,
            alignment=aligner.alignment,
            metrics=names,
            columns=columns,
            per_frame=per_frame,
            weights=source.describe() if source is not None else None,
            unavailable=unavailable,
            settings={"psnr_max_db": cap, "data_range": 255, "planes": "8-bit 4:2:0",
                      "percentile": 5},
        )
    result.summary = {c: M.pool(result.values(c)) for c in columns}
    if xmeter is not None and "xpsnr" in names:
        # FFmpeg's own sequence figure (squared mean root of the weighted SSE).
        pooled = pool_xpsnr(xmeter.wsse, result.ref.width, result.ref.height)
        result.summary["xpsnr"]["ffmpeg_pooled"] = min(pooled, cap)
    return result
