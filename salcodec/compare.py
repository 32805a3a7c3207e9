"""``salcodec compare``: saliency arms against the plain encoder, by rate-distortion.

Each arm is encoded at several CRFs; every encode is decoded and measured
against the input; the arms are compared by Bjontegaard delta rate per metric
and by bytes saved at equal quality (never at equal CRF: zero-mean QP offsets
are not zero-mean bits). The importance map that weights wpsnr/wssim is, by
default, one the encoder did not use, and the report says which.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from . import bdrate
from .bitstream import video_payload_bytes
from .errors import SalcodecError, SalcodecWarning
from .io.copies import DROPPABLE
from .io.safeio import write_atomic
from .quality import measure, resolve_metrics, vmaf_status
from .quality.weights import WeightSpec, parse_weights
from .saliency import DEFAULT_MODEL
from .sampling import make_sample
from .settings import EncodeSettings
from .transcode import encode

SCHEMA = "salcodec.compare/1"
DEFAULT_CRFS = (18, 23, 28, 33)
UNWEIGHTED = ("psnr", "ssim", "xpsnr")
WEIGHTED = ("wpsnr", "wssim", "wxpsnr")
#: Always reported, whatever ``metrics`` asks for.
ALWAYS = ("psnr", "ssim")
#: Name of the plain arm per encoder.
PLAIN_ARM = {"libx264": "x264", "libx265": "x265", "libvpx-vp9": "vp9"}
#: Evaluation map when the user gives none: a model that is not the encoder's.
EVAL_MODELS = ("spectral", "hc", "lc")


@dataclass
class Arm:
    """One curve: a name, its settings (CRF varies) and its measured points."""

    name: str
    settings: EncodeSettings
    points: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        s = self.settings.as_dict()
        s.pop("crf")
        return {"name": self.name, "settings": s, "points": self.points}


def default_eval_weights(settings: EncodeSettings) -> str:
    """A model-based weighting independent of the encoder's model."""
    from .saliency import available_models

    used = DEFAULT_MODEL if settings.model == "default" else settings.model
    for name in EVAL_MODELS:
        if name != used and name in available_models():
            return f"model:{name}"
    raise SalcodecError("no saliency model other than the encoder's is available to weight "
                        "the evaluation; pass --eval-weights")


def is_circular(spec: WeightSpec, settings: EncodeSettings) -> bool:
    """True when the evaluation map is the encoder's own model."""
    used = DEFAULT_MODEL if settings.model == "default" else settings.model
    target = DEFAULT_MODEL if spec.target == "default" else spec.target
    return spec.kind == "model" and target == used


def compare(input: str | os.PathLike, out_dir: str | os.PathLike, *,
            crfs: tuple[float, ...] = DEFAULT_CRFS, strengths: tuple[float, ...] | None = None,
            settings: EncodeSettings | None = None, eval_weights: str | None = None,
            budget: str | None = None, sample: int | None = None, keep: bool = False,
            metrics: str | tuple[str, ...] | None = None, html: bool = False,
            command: str | None = None, log=None) -> dict:
    """Encode the baseline and saliency arms at each CRF, measure, and write the report.

    Parameters
    ----------
    input : path
        Video to compress.
    out_dir : path
        Folder for report.json and rd.png (and the encodes with ``keep``).
    crfs : tuple of float
        CRF of each RD point (at least 2; 4 for the cubic BD method).
    strengths : tuple of float, optional
        One saliency arm per strength; default: the settings' strength.
    settings : EncodeSettings, optional
        Preset, x264 params, model and mapping shared by all arms.
    eval_weights : str, optional
        Weight spec for wpsnr/wssim (see :func:`salcodec.quality.parse_weights`);
        default: a model the encoder does not use.
    budget : {"attended", "size", "zero-mean"}, optional
        Overrides ``settings.budget`` of the saliency arms (see
        :class:`~salcodec.settings.EncodeSettings`).
    sample : int, optional
        Compare on a lossless sample of this many 1.5 s windows instead of the
        whole video (faster; the report says so).
    keep : bool
        Keep the encoded files in ``out_dir``.
    metrics : str or tuple of str, optional
        Metrics to measure (names of ``salcodec quality``, or a comma-separated
        string); psnr and ssim are always added. Default: psnr, ssim, xpsnr and
        the weighted wpsnr, wssim, wxpsnr. ``vmaf`` is refused with the reason.
    html : bool
        Also write ``out_dir/report.html``, one self-contained page (headline,
        RD curves, frames side by side at matched size, per-frame quality and
        bits, command and versions), plus its figures as PNG (see
        :mod:`salcodec.report`).
    command : str, optional
        The command line as typed, recorded in the report (the CLI passes its
        own); the report always also holds an equivalent command with every
        setting spelled out.
    log : callable, optional
        Receives progress lines (the CLI passes a stderr printer).

    Returns
    -------
    dict
        The report (also written to ``out_dir/report.json``).
    """
    log = log or (lambda _msg: None)
    settings = settings or EncodeSettings()
    # Checked first: an unavailable metric (vmaf) fails before any encode.
    wanted = resolve_metrics(metrics if metrics is not None else (*UNWEIGHTED, *WEIGHTED),
                             have_weights=True)
    crfs = tuple(sorted(set(float(c) for c in crfs)))
    if len(crfs) < 2:
        raise SalcodecError("compare needs at least two CRFs to draw a curve")
    strengths = tuple(strengths or (settings.strength,))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = parse_weights(eval_weights or default_eval_weights(settings))
    circular = is_circular(spec, settings)
    if circular:
        warnings.warn("the evaluation weights are the encoder's own saliency model: weighted "
                      "scores are circular and will favour the saliency arm", SalcodecWarning,
                      stacklevel=2)
    vmaf_ok, vmaf_reason = vmaf_status()
    metrics = resolve_metrics([*ALWAYS, *wanted], have_weights=True)

    if html and settings.codec != "libx264":
        raise SalcodecError(f"--html shows H.264's realised QP beside the frames; for "
                            f"{settings.codec} use report.json and rd.png (drop --html)")
    arms = [Arm(PLAIN_ARM[settings.codec], settings.baseline())]
    arms += [Arm(f"salcodec s={s:g}", settings.with_(strength=s, saliency=True))
             for s in strengths]
    series: dict[tuple[int, int], dict] = {}  # per-frame quality of each point (html)
    files: dict[tuple[int, int], tuple[Path, dict, Path | None]] = {}
    html_parts = x264 = None
    with tempfile.TemporaryDirectory(prefix="salcodec-compare-") as tmp:
        work = out if keep else Path(tmp)
        reference = Path(input)
        sample_info = None
        if sample:
            smp = make_sample(input, Path(tmp) / "sample.mkv", count=sample)
            reference = smp.path
            sample_info = {"windows": [list(w) for w in smp.windows], "frames": smp.frames,
                           "fraction_of_video": smp.fraction}
        for i, arm in enumerate(arms):
            for crf in crfs:
                dst = work / f"arm{i}_crf{crf:g}.mp4"
                # The report draws the encoder's own maps: exported while encoding
                # rather than recomputed (the saliency model again) afterwards.
                maps = work / f"arm{i}_crf{crf:g}.map.jsonl" if html and i == 1 else None
                log(f"{arm.name}: CRF {crf:g} ...")
                # Video only: what compare measures (a stream the .mp4 cannot hold
                # would otherwise stop it).
                r = encode(reference, dst, arm.settings.with_(crf=crf), overwrite=True,
                           budget=budget if arm.settings.saliency else None, progress=False,
                           export_map=maps, drop=DROPPABLE)
                if x264 is None:
                    from .report.provenance import x264_build

                    x264 = x264_build(dst)
                q = measure(reference, dst, metrics, spec)
                if html:
                    key = (i, len(arm.points))
                    series[key] = {m: q.values(m).tolist() for m in q.metrics}
                    files[key] = (dst, r.settings, maps)
                seconds = _duration(q)
                video = video_payload_bytes(dst)
                arm.points.append({
                    "crf": crf, "bytes": video, "file_bytes": r.bytes,
                    "bitrate_kbps": video * 8 / 1000 / seconds if seconds else None,
                    "frames": r.frames_out, "encode_seconds": r.seconds,
                    "mean_abs_qp_offset": r.mean_abs_qp_offset,
                    "budget": r.budget,
                    "metrics": {m: q.summary[m]["mean"] for m in q.metrics},
                    "file": str(dst) if keep else None,
                })
            weights_desc = q.weights
        if html:  # while the encodes still exist
            html_parts = _pick_frames(arms, series, files, reference, log)
    report = {
        "schema": SCHEMA,
        "input": str(input),
        "sample": sample_info,
        "crfs": list(crfs),
        "metrics": metrics,
        "rate": "bytes = coded pictures (video packets less SEI NAL units); file_bytes = whole "
                "file",
        "vmaf": "available" if vmaf_ok else f"unavailable: {vmaf_reason}",
        "evaluation_weights": {
            "spec": str(spec), "circular": circular, "description": weights_desc,
            "weights": "wpsnr and wssim are weighted by this map; psnr and ssim are unweighted",
            "encoder_map": f"saliency model {settings.model!r}",
        },
        "arms": [a.as_dict() for a in arms],
        "bd_rate": {}, "bd_quality": {}, "savings_at_equal_quality": {},
    }
    base = arms[0]
    for arm in arms[1:]:
        report["bd_rate"][arm.name] = {m: _bd(base, arm, m, "rate") for m in metrics}
        report["bd_quality"][arm.name] = {m: _bd(base, arm, m, "quality") for m in metrics}
        report["savings_at_equal_quality"][arm.name] = {
            m: [_saving(s) for s in bdrate.savings_at_equal_quality(
                *_curve(base, m), *_curve(arm, m))] for m in metrics}
    from .report.provenance import compare_command, versions

    sal = arms[1].settings.with_(budget=budget) if budget else arms[1].settings
    report["provenance"] = {
        "command": command,
        "equivalent_command": compare_command(input, out_dir, crfs, strengths, sal, str(spec),
                                              metrics, sample, html),
        "versions": {**versions(), "libx264": x264}}
    if html_parts is not None:
        from .report import write_report

        report["html"] = write_report(report, out, *html_parts)
        log(f"report.html: {report['html']['bytes'] / 1e6:.2f} MB in "
            f"{report['html']['seconds']:.1f} s")
    else:
        plot_rd(report, out / "rd.png")
    write_atomic(out / "report.json", json.dumps(report, indent=2, allow_nan=False))
    return report


def _pick_frames(arms: list[Arm], series: dict, files: dict, reference: Path, log):
    """The matched pair of the first saliency arm, and its frames picked in one pass."""
    from .report import matched_points, pick_frames

    view = {"arms": [a.as_dict() for a in arms[:2]]}
    i, j = matched_points(view)
    p, q = arms[0].points[i], arms[1].points[j]
    text = (f"{arms[0].name} at CRF {p['crf']:g} ({p['bytes']:,} bytes) and {arms[1].name} at "
            f"CRF {q['crf']:g} ({q['bytes']:,} bytes, {100 * (q['bytes'] / p['bytes'] - 1):+.1f}"
            "%), the points of the two curves closest in size")
    log("report: picking frames ...")
    plain, (salient, settings, maps) = files[(0, i)][0], files[(1, j)]
    pick = pick_frames(reference, plain, salient, EncodeSettings(**settings),
                       (arms[0].name, arms[1].name), maps=maps)
    matched = {"text": text, "x264_crf": p["crf"], "salcodec_crf": q["crf"],
               "x264_bytes": p["bytes"], "salcodec_bytes": q["bytes"], **pick.summary()}
    return pick, [series[(0, i)], series[(1, j)]], matched


def _duration(q) -> float:
    fps = q.ref.fps or 25.0
    return q.frames_compared / fps


def _curve(arm: Arm, metric: str) -> tuple[list[float], list[float]]:
    return [p["bytes"] for p in arm.points], [p["metrics"][metric] for p in arm.points]


def _bd(base: Arm, arm: Arm, metric: str, kind: str) -> dict:
    fn = bdrate.bd_rate if kind == "rate" else bdrate.bd_quality
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bdrate.BDOverlapWarning)
        for method in ("pchip", "akima"):
            r = fn(*_curve(base, metric), *_curve(arm, metric), method=method)
            out[method] = None if math.isnan(r.value) else float(r.value)
            out["overlap"], out["low_overlap"] = float(r.overlap), bool(r.low_overlap)
    return out


def _saving(s) -> dict:
    return {"quality": s.quality, "bytes": s.rate,
            "baseline_bytes": None if math.isnan(s.baseline_rate) else s.baseline_rate,
            "saved_fraction": None if math.isnan(s.saved_fraction) else s.saved_fraction}


def plot_rd(report: dict, path: Path) -> None:
    """RD curves, one panel per metric, bytes on a log axis, BD-rates printed on them."""
    from .report.figures import plot_rd as draw

    draw(report, path)


def summary_lines(report: dict) -> list[str]:
    """A short human summary: BD-rate per arm and metric."""
    plain = report["arms"][0]["name"] if report.get("arms") else "x264"
    lines = [f"{report['input']}: BD-rate vs plain {plain} (pchip; negative = fewer bytes at "
             f"equal quality); weights for wpsnr/wssim: {report['evaluation_weights']['spec']}"
             + (" [CIRCULAR]" if report["evaluation_weights"]["circular"] else "")]
    for arm, per_metric in report["bd_rate"].items():
        cells = []
        for m, v in per_metric.items():
            val = "n/a" if v["pchip"] is None else f"{v['pchip']:+.1f}%"
            cells.append(f"{m} {val}" + ("*" if v["low_overlap"] else ""))
        lines.append(f"  {arm}: " + ", ".join(cells))
    if any(v["low_overlap"] for a in report["bd_rate"].values() for v in a.values()):
        lines.append("  * curves overlap little: treat that number with care")
    return lines


def print_summary(report: dict, file: TextIO | None = None) -> None:
    """The summary lines on ``file`` (default: the current ``sys.stdout``, looked up per call)."""
    print("\n".join(summary_lines(report)), file=file or sys.stdout)
