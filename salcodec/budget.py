"""Bit-budget control: shift the offset map so the saliency arm costs what the plain encoder costs.

Zero-mean QP offsets are not zero-mean bits (FACTS.md: at one CRF the size
moved -3% to +29%). Size falls smoothly, about exponentially, with a constant
QP bias added to every offset, so a few sample encodes find the bias at which
the saliency arm's size matches the plain encoder at the same CRF: a secant search on
``log(size ratio)`` over a lossless sample of the video.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .sampling import make_sample
from .settings import EncodeSettings

#: ``encode(input, output, settings) -> bytes written``: how samples are encoded.
#: Passed in by the caller (:func:`salcodec.transcode.encode`) so that this
#: module does not import the transcoder that imports it.
SampleEncoder = Callable[[Path, Path, EncodeSettings], int]


@dataclass
class Calibration:
    """Result of :func:`calibrate_bias`: the bias and the trials that found it."""

    bias: float
    size_ratio: float  # saliency bytes / baseline bytes on the sample, at ``bias``
    trials: list[tuple[float, float]]  # (bias, ratio) in the order tried
    sample_frames: int

    def as_dict(self) -> dict:
        return {"bias": self.bias, "size_ratio": self.size_ratio,
                "trials": [list(t) for t in self.trials], "sample_frames": self.sample_frames}


def calibrate_bias(input: str | os.PathLike, settings: EncodeSettings, encode: SampleEncoder, *,
                   tolerance: float = 0.02, max_trials: int = 6, samples: int = 4,
                   seconds: float = 1.5) -> Calibration:
    """Find the QP bias that makes the saliency arm's size equal the baseline's.

    Parameters
    ----------
    input : path
        The video to be encoded.
    settings : EncodeSettings
        The saliency arm's settings (``bias`` is ignored and searched; the
        offsets are zero-mean before the bias, whatever ``budget`` says).
    encode : callable
        ``encode(input, output, settings) -> bytes``, used for every sample encode.
    tolerance : float
        Stop when ``|size ratio - 1|`` is below this.
    max_trials : int
        Sample encodes of the saliency arm at most.
    samples, seconds
        Sample windows (see :func:`salcodec.sampling.make_sample`).
    """
    settings = settings.with_(budget="zero-mean")
    with tempfile.TemporaryDirectory(prefix="salcodec-budget-") as tmp:
        sample = make_sample(input, Path(tmp) / "sample.mkv", samples, seconds)
        base = encode(sample.path, Path(tmp) / "base.mkv", settings.baseline())

        def log_ratio(bias: float) -> float:
            out = Path(tmp) / "trial.mkv"
            out.unlink(missing_ok=True)
            size = encode(sample.path, out, settings.with_(bias=bias))
            return math.log(size / base)

        trials: list[tuple[float, float]] = []
        # Size falls ~12% per QP of bias on the clips measured: start one QP apart.
        x0, y0 = 0.0, log_ratio(0.0)
        trials.append((x0, math.exp(y0)))
        x1 = 1.0 if y0 > 0 else -1.0
        best = (abs(y0), x0, y0)
        while len(trials) < max_trials and best[0] > math.log1p(tolerance):
            y1 = log_ratio(x1)
            trials.append((x1, math.exp(y1)))
            best = min(best, (abs(y1), x1, y1))
            slope = (y1 - y0) / (x1 - x0) if x1 != x0 else 0.0
            if slope >= 0:  # not decreasing: noise dominates, keep the best so far
                break
            x0, y0, x1 = x1, y1, max(-settings.clamp, min(settings.clamp, x1 - y1 / slope))
        _, bias, y = best
        return Calibration(round(bias, 3), math.exp(y), trials, sample.frames)
