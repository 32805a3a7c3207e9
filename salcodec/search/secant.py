"""The secant search of crf-search: a few trials, the CRF that meets a target.

Quality (SSIM as ``-10 log10(1 - SSIM)``) and log(bytes) are taken as linear
in CRF over a few CRF units, so two trials give a secant and the CRF that meets
the target is interpolated instead of bisected (:func:`search_strength`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

#: Typical quality slope, dB per CRF unit, for the second trial's step.
SLOPE_GUESS = -0.45
#: A later strength accepts the borrowed slope when its answer is this close (CRF).
ACCEPT_CRF = 1.0
#: Another trial (up to max_trials) while the answer is further than this from
#: every trial (CRF): between trials at CRF 23 and 42 an asl clip's PSNR target
#: was interpolated at 35.5, where the real encode fell 0.35 dB short.
REFINE_CRF = 1.5
#: The search aims this far above the target (dB; for SSIM on the
#: -10 log10(1 - SSIM) scale): between two trials the secant runs a little
#: above the real curve, and whole-video samples, whose trials are exact,
#: missed by 0.003-0.024 dB in 4 of 5 real encodes without it.
TARGET_MARGIN = 0.05


def to_linear(metric: str, q: float) -> float:
    """Quality on a scale close to linear in CRF: dB as is, SSIM as ``-10 log10(1 - SSIM)``."""
    if metric in ("ssim", "wssim"):
        return -10.0 * math.log10(max(1.0 - q, 1e-10))
    return q


def from_linear(metric: str, y: float) -> float:
    if metric in ("ssim", "wssim"):
        return 1.0 - 10.0 ** (-y / 10.0)
    return y


@dataclass
class Trial:
    """One sample encode: its CRF and the full encode's predicted quality and size."""

    crf: float
    quality: float
    bytes: int
    sample_bytes: int
    seconds: float


@dataclass
class Candidate:
    """The CRF chosen for one strength, with the prediction for the full encode."""

    strength: float
    crf: float | None = None
    quality: float | None = None
    predicted_bytes: int | None = None
    reached: bool = False
    trials: list[dict] = field(default_factory=list)
    settings: dict | None = None


def _secant(a: Trial, b: Trial, metric: str) -> tuple[float, float]:
    """Slopes per CRF unit of linearised quality and of log(bytes) between two trials."""
    dc = b.crf - a.crf
    dq = to_linear(metric, b.quality) - to_linear(metric, a.quality)
    return dq / dc, (math.log(b.bytes) - math.log(a.bytes)) / dc


def _solve(trials: list[Trial], target: float, metric: str,
           slopes: tuple[float, float] | None) -> tuple[float, float, float]:
    """CRF meeting the target on the secant through the trials nearest to it.

    Returns (crf, quality slope, log-size slope). With one trial, ``slopes``
    (borrowed from another strength) are used.
    """
    yt = to_linear(metric, target)
    pts = sorted(trials, key=lambda t: t.crf)
    if len(pts) >= 2:
        above = [t for t in pts if to_linear(metric, t.quality) >= yt]
        below = [t for t in pts if to_linear(metric, t.quality) < yt]
        if above and below:  # interpolate in the tightest bracket
            a, b = max(above, key=lambda t: t.crf), min(below, key=lambda t: t.crf)
        else:  # extrapolate from the two nearest the target
            a, b = sorted(pts, key=lambda t: abs(to_linear(metric, t.quality) - yt))[:2]
        sq, sb = _secant(a, b, metric)
        if not sq < 0:  # quality did not fall with CRF (noise, saturation)
            sq = slopes[0] if slopes else SLOPE_GUESS
    else:
        a = pts[0]
        sq, sb = slopes if slopes else (SLOPE_GUESS, -0.11)
    return a.crf + (yt - to_linear(metric, a.quality)) / sq, sq, sb


def _predict_at(trials: list[Trial], crf: float, metric: str, sq: float,
                sb: float) -> tuple[float, float]:
    """Quality and bytes at ``crf`` from the nearest trial along the slopes."""
    near = min(trials, key=lambda t: abs(t.crf - crf))
    y = to_linear(metric, near.quality) + sq * (crf - near.crf)
    return from_linear(metric, y), near.bytes * math.exp(sb * (crf - near.crf))


def search_strength(run_trial, strength: float, target: float, metric: str,
                    crf_range: tuple[float, float], start: float,
                    slopes: tuple[float, float] | None, max_trials: int,
                    crf_step: float = 0.1,
                    tried: list[Trial] | None = None) -> tuple[Candidate, tuple]:
    """Find the largest CRF whose predicted quality reaches ``target`` for one strength.

    ``run_trial(crf) -> Trial``. With borrowed ``slopes`` one trial may
    suffice; otherwise a second at the slope's guess, and further ones only
    while the answer lies more than :data:`REFINE_CRF` from every trial. CRFs are
    multiples of ``crf_step`` (1 for encoders that take whole numbers: VP9).
    With ``tried`` (trials already made, predicted anew) the search goes on
    from them: more trials only while the answer is far from all of them.
    """
    lo, hi = crf_range
    aim = from_linear(metric, to_linear(metric, target) + TARGET_MARGIN)

    def clamp(c: float) -> float:
        return round(round(min(hi, max(lo, c)) / crf_step) * crf_step, 1)

    trials = list(tried) if tried else [run_trial(clamp(start))]
    crf, sq, sb = _solve(trials, aim, metric, slopes)
    if not tried and (slopes is None or abs(crf - trials[0].crf) > ACCEPT_CRF):
        nxt = clamp(crf)
        if abs(nxt - trials[0].crf) < 2.0:  # a secant needs some spread
            step = 3.0 if crf >= trials[0].crf else -3.0
            nxt = clamp(trials[0].crf + step)
            if nxt == trials[0].crf:
                nxt = clamp(trials[0].crf - step)
        if nxt != trials[0].crf:
            trials.append(run_trial(nxt))
            crf, sq, sb = _solve(trials, aim, metric, slopes)
    while len(trials) < max_trials:
        tried = [t.crf for t in trials]
        c = clamp(crf)
        # Quality is linear in CRF only over a few units: an answer far from
        # every trial, even inside a wide bracket, gets a trial of its own.
        if min(abs(c - t) for t in tried) <= REFINE_CRF:
            break
        trials.append(run_trial(clamp(max(min(tried) - 8, min(c, max(tried) + 8)))))
        crf, sq, sb = _solve(trials, aim, metric, slopes)
    chosen = clamp(math.floor(crf / crf_step + 1e-6) * crf_step)  # towards higher quality
    q, b = _predict_at(trials, chosen, metric, sq, sb)
    cand = Candidate(strength=strength, crf=chosen, quality=q, predicted_bytes=round(b),
                     reached=q >= target - 1e-9,
                     trials=[asdict(t) for t in sorted(trials, key=lambda t: t.crf)])
    return cand, (sq, sb)
