"""``salcodec crf-search``: the settings that reach a quality target with the fewest bytes.

The ab-av1 idea applied to saliency encoding: on a lossless sample of the
video (not the whole), search the CRF that just reaches ``METRIC >= VALUE`` for
each candidate strength (0 = plain libx264), predict the full size from the
sample, and pick the cheapest.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .bitstream import video_payload_bytes
from .errors import SalcodecError
from .quality import measure
from .quality.weights import parse_weights
from .sampling import make_sample
from .settings import EncodeSettings
from .transcode import encode

#: Metrics a target may name; "lower is better" metrics are not supported.
TARGET_METRICS = ("psnr", "psnr_yuv", "ssim", "wpsnr", "wssim", "vmaf")


def parse_target(text: str) -> tuple[str, float]:
    """``"wpsnr=40"`` -> ("wpsnr", 40.0)."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    if not sep or name not in TARGET_METRICS:
        raise SalcodecError(f"--target {text!r}: expected METRIC=VALUE with METRIC one of "
                            f"{', '.join(TARGET_METRICS)}")
    try:
        return name, float(value)
    except ValueError:
        raise SalcodecError(f"--target {text!r}: {value!r} is not a number") from None


@dataclass
class Candidate:
    """The best CRF found for one strength, and every trial on the way."""

    strength: float
    crf: float | None = None
    quality: float | None = None
    sample_bytes: int | None = None
    predicted_bytes: int | None = None
    reached: bool = False
    trials: list[dict] = field(default_factory=list)


def crf_search(input: str | os.PathLike, target: str, *,
               strengths: tuple[float, ...] = (0.0, 2.0, 4.0, 6.0),
               settings: EncodeSettings | None = None, weights: str | None = None,
               crf_range: tuple[float, float] = (10.0, 45.0), samples: int = 4,
               max_trials: int = 7, log=None) -> dict:
    """Search CRF per strength on samples; return every candidate and the cheapest.

    Parameters
    ----------
    input : path
        The video.
    target : str
        ``METRIC=VALUE`` (e.g. ``"ssim=0.97"``, ``"wpsnr=40"``): mean over frames.
    strengths : tuple of float
        Candidate strengths; 0 is plain libx264 (no saliency).
    settings : EncodeSettings
        Preset, params, model and mapping shared by all candidates.
    weights : str, optional
        Weight spec for wpsnr/wssim targets (see :func:`salcodec.quality.parse_weights`).
    crf_range : (float, float)
        Search interval.
    samples : int
        1.5 s sample windows taken from the video.
    max_trials : int
        Sample encodes per strength at most.
    """
    log = log or (lambda _m: None)
    metric, value = parse_target(target)
    spec = parse_weights(weights) if weights else None
    if metric in ("wpsnr", "wssim") and spec is None:
        raise SalcodecError(f"--target {metric} needs --weights (e.g. model:spectral)")
    settings = settings or EncodeSettings()
    lo, hi = crf_range
    with tempfile.TemporaryDirectory(prefix="salcodec-crfsearch-") as tmp:
        sample = make_sample(input, Path(tmp) / "sample.mkv", count=samples)

        def trial(s: float, crf: float) -> tuple[float, int]:
            arm = settings.with_(crf=crf, strength=s or settings.strength, saliency=s > 0)
            out = Path(tmp) / "trial.mp4"
            encode(sample.path, out, arm, overwrite=True, progress=False)
            q = measure(sample.path, out, [metric], spec).summary[metric]["mean"]
            size = video_payload_bytes(out)
            log(f"strength {s:g} CRF {crf:g}: {metric} {q:.4f}, {size} bytes")
            return q, size

        candidates = [_search(s, value, lo, hi, max_trials, trial) for s in strengths]
        for c in candidates:
            if c.sample_bytes is not None:
                c.predicted_bytes = round(c.sample_bytes / sample.fraction)
    reached = [c for c in candidates if c.reached]
    best = min(reached, key=lambda c: c.sample_bytes) if reached else None
    baseline = next((c for c in candidates if c.strength == 0 and c.reached), None)
    return {
        "input": str(input), "target": {"metric": metric, "value": value},
        "weights": str(spec) if spec else None,
        "sample": {"windows": [list(w) for w in sample.windows], "frames": sample.frames,
                   "fraction_of_video": sample.fraction},
        "settings": settings.as_dict(),
        "candidates": [asdict(c) for c in candidates],
        "best": asdict(best) if best else None,
        "saving_vs_baseline": (1 - best.sample_bytes / baseline.sample_bytes
                               if best and baseline else None),
    }


def _search(strength: float, target: float, lo: float, hi: float, max_trials: int,
            trial) -> Candidate:
    """Largest CRF (on a 0.5 grid) whose quality is still >= target; quality falls with CRF."""
    cand = Candidate(strength)
    seen: dict[float, tuple[float, int]] = {}

    def run(crf: float) -> float:
        crf = min(hi, max(lo, round(crf * 2) / 2))
        if crf not in seen:
            seen[crf] = trial(strength, crf)
            cand.trials.append({"crf": crf, "quality": seen[crf][0], "bytes": seen[crf][1]})
        return crf

    run(23.0)
    for _ in range(max_trials - 1):
        good = [c for c, (q, _) in seen.items() if q >= target]
        bad = [c for c, (q, _) in seen.items() if q < target]
        g, b = (max(good) if good else None), (min(bad) if bad else None)
        if g is not None and b is not None and b - g <= 0.5:
            break
        if g is None:  # every trial too poor: go lower
            if min(seen) <= lo:
                break
            nxt = min(seen) - 6
        elif b is None:  # every trial good enough: go higher
            if max(seen) >= hi:
                break
            nxt = max(seen) + 6
        else:  # interpolate in the bracket (quality ~ linear in CRF locally)
            qg, qb = seen[g][0], seen[b][0]
            t = (qg - target) / (qg - qb) if qg != qb else 0.5
            nxt = g + min(max(t, 0.1), 0.9) * (b - g)
        before = len(seen)
        run(nxt)
        if len(seen) == before:
            break
    good = [c for c, (q, _) in seen.items() if q >= target]
    if good:
        crf = max(good)
        cand.crf, (cand.quality, cand.sample_bytes) = crf, seen[crf]
        cand.reached = True
    else:
        crf = min(seen)
        cand.crf, (cand.quality, cand.sample_bytes) = crf, seen[crf]
    if cand.quality is not None and not math.isfinite(cand.quality):
        cand.quality = None
    return cand
