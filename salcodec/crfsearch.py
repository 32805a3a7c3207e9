"""``salcodec crf-search``: the CRF that just reaches a quality target, in a few sample encodes.

The ab-av1 idea applied to saliency encoding, sized so that a person waits
for it (about one to two full encodes):

* One lossless sample of the video: a few short evenly spaced windows (at
  most about a quarter of the frames), decoded once and kept in memory with
  its weight maps, so each trial only encodes, decodes its own output and
  scores.
* Quality and log(size) are close to linear in CRF over a few CRF units (SSIM
  after the ``-10 log10(1 - SSIM)`` transform), so instead of bisecting, two
  trials give a secant and the CRF that meets the target is interpolated; a
  third trial is made only while the answer lies more than 1.5 CRF from every
  trial. The second strength starts where the first ended (lower for an
  unweighted target, :func:`start_shift`) and borrows its slopes, so one
  trial often suffices.
* The full encode's size is predicted with a tiled proxy of the whole
  video (:mod:`salcodec.sizeproxy`), encoded once the first strength has an
  answer, at that CRF; the proxy also measures what the windows cost in
  quality (:mod:`salcodec.proxyquality`), and that strength's trials are
  predicted again and its answer refined. Quality comes from per-frame
  values: each window's first frame is an I-frame only because the sample
  cuts there, so those frames stand for the full encode's I-frames (the
  first, and one per ``keyint``) and the other frames for the rest.
* A video of at most :data:`WHOLE_VIDEO_PIXELS` is its own sample: no proxy.
* Only the plain encoder and the settings' strength are compared unless strengths
  are given. The user's :class:`~salcodec.settings.EncodeSettings` are passed
  through unchanged (``with_``/``baseline``), whatever their budget.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import tempfile
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from .errors import SalcodecError
from .quality.measure import PSNR_MAX_DB, score_frame, vmaf_error
from .quality.video import FramePair, TimedFrame, VideoReader
from .quality.weights import parse_weights
from .quality.xpsnr import XPSNR, block_size, block_weights, xpsnr_with_weights
from .sampling import Sample, count_frames, make_sample, with_proxy
from .settings import EncodeSettings
from .sizeproxy import FrameSizes

#: Metrics a target may name (all higher-is-better, mean over frames).
TARGET_METRICS = ("psnr", "psnr_yuv", "ssim", "xpsnr", "wpsnr", "wssim", "wxpsnr")
WEIGHTED_TARGETS = ("wpsnr", "wssim", "wxpsnr")
#: Typical quality slope, dB per CRF unit, for the second trial's step.
SLOPE_GUESS = -0.45
#: A later strength accepts the borrowed slope when its answer is this close (CRF).
ACCEPT_CRF = 1.0
#: Another trial (up to max_trials) while the answer is further than this from
#: every trial (CRF): between trials at CRF 23 and 42 an asl clip's PSNR target
#: was interpolated at 35.5, where the real encode fell 0.35 dB short.
REFINE_CRF = 1.5
#: Where a strength's first trial starts, CRF units per unit of strength from
#: the previous strength's answer, for an unweighted target under the attended
#: budget (which spends less outside the salient region, so the whole frame's
#: quality at one CRF is lower). Median of 34 searches at strength 2 on eleven
#: clips of ../shared/data (ssim=0.97, psnr=38, xpsnr=38): -2.4 CRF, range
#: -1.3 to -3.0 (docs/quality.md). Within ACCEPT_CRF of the answer one trial
#: suffices; the search makes a second one when the guess is off.
CRF_PER_STRENGTH = -1.2
#: Share of the proxy's measured quality loss added back to a trial's
#: prediction. PSNR of 53 predictions (29 clips, CRF 20-28) against the real
#: encodes: with all of it 11 lay above the real encode, by up to 0.36 dB; with
#: three quarters 3 (up to 0.04 dB); with half none, mean error -1.07 dB
#: against -1.63 dB without it. Held out (8 clips at CRF 18 and 32): -0.82
#: against -1.16 dB, none above (docs/quality.md). A target is a minimum.
SHIFT_SHARE = 0.5
#: The search aims this far above the target (dB; for SSIM on the
#: -10 log10(1 - SSIM) scale): between two trials the secant runs a little
#: above the real curve, and whole-video samples, whose trials are exact,
#: missed by 0.003-0.024 dB in 4 of 5 real encodes without it.
TARGET_MARGIN = 0.05
#: CRF units above the size proxy's CRF at which its quality shift has faded out.
SHIFT_FADE_CRF = 10.0
#: x264's default keyframe interval (frames).
X264_KEYINT = 250


def parse_target(text: str) -> tuple[str, float]:
    """``"xpsnr=40"`` -> ("xpsnr", 40.0); VMAF and unknown metrics are one-line errors."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    if name == "vmaf":
        raise SalcodecError(f"--target {text}: {vmaf_error()}")
    if not sep or name not in TARGET_METRICS:
        raise SalcodecError(f"--target {text!r}: expected METRIC=VALUE with METRIC one of "
                            f"{', '.join(TARGET_METRICS)}")
    try:
        v = float(value)
    except ValueError:
        raise SalcodecError(f"--target {text!r}: {value!r} is not a number") from None
    if not math.isfinite(v) or (name in ("ssim", "wssim") and not 0 < v < 1):
        raise SalcodecError(f"--target {text!r}: {name} targets lie in (0, 1)"
                            if name in ("ssim", "wssim") else f"--target {text!r}: not finite")
    return name, v


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


class SampleScorer:
    """The lossless sample decoded once, with its weight maps; scores trial encodes.

    Parameters
    ----------
    sample : Sample
        From :func:`salcodec.sampling.make_sample`.
    metric : str
        Target metric.
    spec : WeightSpec, optional
        Weights for the weighted metrics, computed once per sample frame with
        the frame's index and time in the source video.
    keyint : int
        The encode's keyframe interval (I-frames forced in the full encode).
    """

    def __init__(self, sample: Sample, metric: str, spec=None, keyint: int = X264_KEYINT):
        self.sample = sample
        self.metric = metric
        self.keyint = keyint
        src_index = [s + k for s, n in sample.windows for k in range(n)]
        self.starts = np.zeros(sample.frames, dtype=bool)
        first = 0
        for _, n in sample.windows:
            self.starts[min(first, sample.frames - 1)] = True
            first += n
        self.refs: list[tuple[np.ndarray, ...]] = []
        self.weights: list[np.ndarray | None] = []
        source = None
        with VideoReader(sample.path) as reader:
            self.fps = reader.fps
            try:
                for tf in reader.frames():
                    self.refs.append(tuple(np.array(p) for p in tf.planes()))
                    if spec is None:
                        self.weights.append(None)
                        continue
                    if source is None:
                        source = spec.open(tf.frame.width, tf.frame.height, reader.fps)
                    # The weights see the frame's index and time in the source
                    # video, so fixations keyed by frame or time still apply.
                    i = src_index[min(tf.index, len(src_index) - 1)]
                    at = TimedFrame(i, i / reader.fps if reader.fps else tf.time, tf.frame)
                    self.weights.append(source(FramePair(at, at)))
            finally:
                if source is not None:
                    source.close()
        if len(self.refs) != sample.frames:
            raise SalcodecError(f"{sample.source}: the sample decoded to {len(self.refs)} "
                                f"frames, expected {sample.frames}")
        self.use(sample)
        # XPSNR's block weights depend on the reference alone: once for all trials.
        self.xweights: list[np.ndarray] | None = None
        h, w = self.refs[0][0].shape
        if metric in ("xpsnr", "wxpsnr") and block_size(w, h) >= 4:
            ys = [r[0] for r in self.refs]
            self.xweights = [block_weights(y, ys[i - 1] if i > 0 else None,
                                           ys[i - 2] if i > 1 else None, fps=self.fps)
                             for i, y in enumerate(ys)]

    def use(self, sample: Sample) -> None:
        """Predict with ``sample`` (the same frames; with its size proxy, once it has one)."""
        self.sample = sample
        # What the windows cost the non-key frames' quality, on the scale of
        # to_linear: SHIFT_SHARE of the full proxy's mean less the windows'
        # (0 without one).
        self.shift = 0.0
        if sample.proxy is not None and sample.proxy.quality is not None:
            full, parts = (np.array([to_linear(self.metric, v) for v in q])[~self.starts]
                           for q in sample.proxy.quality)
            if len(full):
                self.shift = SHIFT_SHARE * float(full.mean() - parts.mean())

    def score(self, path: Path) -> tuple[np.ndarray, FrameSizes]:
        """Per-frame target metric and coded bytes (less SEI) of an encode of the sample.

        Frames are scored on a thread per core (OpenCV and the numba kernels
        release the GIL), since the search waits for each trial's score: on
        a 9 s 720p clip SSIM scoring was 6.2 of the search's 16.4 s on one
        thread. XPSNR on frames too small for its block weights keeps one
        running meter, in order.
        """
        meter = (XPSNR(fps=self.fps) if self.metric in ("xpsnr", "wxpsnr")
                 and self.xweights is None else None)
        threads = 1 if meter is not None else max(1, min(4, len(os.sched_getaffinity(0))))
        values: list[float] = []
        pending: deque[Future[float]] = deque()
        with VideoReader(path) as reader, ThreadPoolExecutor(threads) as pool:
            for tf in reader.frames():
                if tf.index >= len(self.refs):
                    break
                if meter is not None:
                    values.append(self._value(tf.index, tf.planes(), meter))
                    continue
                pending.append(pool.submit(self._value, tf.index, tf.planes()))
                if len(pending) > 2 * threads:  # a few decoded frames in flight, no more
                    values.append(pending.popleft().result())
            values += [f.result() for f in pending]
        sizes = FrameSizes.of_file(path)
        if len(values) != len(self.refs) or len(sizes.bytes) != len(self.refs):
            raise SalcodecError(f"{path}: trial encode has {len(values)} frames, "
                                f"expected {len(self.refs)}")
        return np.array(values), sizes

    def _value(self, i: int, planes: tuple[np.ndarray, ...], meter: XPSNR | None = None
               ) -> float:
        """The target metric of sample frame ``i`` against its encoded ``planes``."""
        if self.xweights is not None:
            sal = self.weights[i] if self.metric == "wxpsnr" else None
            xv = xpsnr_with_weights(self.refs[i], planes, self.xweights[i], saliency=sal)
            return min(xv["wxpsnr" if sal is not None else "y"], PSNR_MAX_DB)
        return score_frame([self.metric], self.refs[i], planes, self.weights[i],
                           meter)[self.metric]

    def predict(self, values: np.ndarray, sizes: FrameSizes,
                crf: float | None = None) -> tuple[float, float]:
        """Mean quality and total bytes of the full encode, from one sample encode.

        Bytes: scaled by the tiled proxy of the whole video where the
        sample has one (:meth:`salcodec.sizeproxy.SizeProxy.predict`).
        Quality, and bytes without a proxy: window starts stand for the full
        encode's I-frames (its first frame and one per ``keyint``), the other
        frames for the rest, each group by its mean; the rest's mean is raised
        by :attr:`shift`, what the windows' cold starts cost the proxy, less
        above the proxy's CRF (:func:`shift_at`; ``crf``: the trial's). A
        sample that is the whole video is returned as measured.
        """
        total = self.sample.source_frames
        b = sizes.bytes
        if self.sample.windows == ((0, total),) or len(values) >= total:
            return float(values.mean()), float(b.sum())
        keys = min(total, 1 + (total - 1) // self.keyint)
        s, o = self.starts, ~self.starts
        proxy_crf = self.sample.proxy.crf if self.sample.proxy is not None else None
        shift = shift_at(self.shift, crf, proxy_crf)
        rest = from_linear(self.metric, to_linear(self.metric, values[o].mean()) + shift)
        q = (values[s].mean() * keys + rest * (total - keys)) / total
        if self.sample.proxy is not None:
            return float(q), self.sample.proxy.predict(sizes)
        return float(q), float(b[s].mean() * keys + b[o].mean() * (total - keys))


def start_shift(metric: str, settings: EncodeSettings, strength: float) -> float:
    """Expected CRF of ``strength`` at the target, less the plain encoder's (CRF units).

    Nonzero only for an unweighted target under the attended budget: a
    weighted target is met at about the plain encoder's CRF (the attended
    budget keeps the quality where the weights are), and the other budgets
    move less (:data:`CRF_PER_STRENGTH`).
    """
    if strength == 0 or metric in WEIGHTED_TARGETS or settings.budget != "attended":
        return 0.0
    return CRF_PER_STRENGTH * strength


def shift_at(shift: float, crf: float | None, proxy_crf: float | None) -> float:
    """The proxy's quality shift for a trial at ``crf``, the proxy encoded at ``proxy_crf``.

    Above the proxy's CRF the windows' cold starts cost less: on seven clips
    the loss at CRF 28 was 0.2-1.0 times the loss at 23, and the shift from a
    proxy at 23 over-predicted a CRF 28 encode by up to 0.9 dB. So the shift
    falls linearly to nothing 10 CRF above the proxy's (half at +5), which kept
    every one of those predictions at or below the real encode
    (docs/quality.md). Below it, the shift as measured (safe on the same
    clips at CRF 20).
    """
    if crf is None or proxy_crf is None or crf <= proxy_crf:
        return shift
    return shift * max(0.0, 1.0 - (crf - proxy_crf) / SHIFT_FADE_CRF)


def _keyint(settings: EncodeSettings) -> int:
    # x264 and x265 call it keyint, FFmpeg's libvpx options g.
    m = re.search(r"(?:^|:)(?:keyint|g)=(\d+|infinite)", settings.params or "")
    if not m:
        return X264_KEYINT
    return 10**9 if m.group(1) == "infinite" else max(1, int(m.group(1)))


def arm_settings(settings: EncodeSettings, strength: float) -> EncodeSettings:
    """The user's settings for one candidate: 0 = the plain encoder, else that strength."""
    if strength == 0:
        return settings.baseline()
    return settings.with_(strength=strength, saliency=True)


def encode_command(input: str | os.PathLike, output: str, settings: EncodeSettings) -> str:
    """A copy-pasteable ``salcodec encode`` line for ``settings``.

    ``--crf`` and ``--preset`` always; other options only where they differ
    from the defaults; saliency options are left out for the plain encoder.
    """
    default = EncodeSettings()
    flags = {"params": "--params"}
    args = ["salcodec", "encode", str(input), output, "--crf", f"{settings.crf:g}",
            "--preset", settings.preset]
    for f in fields(settings):
        name = f.name
        value = getattr(settings, name)
        if name in ("crf", "preset", "x264_params") or value == getattr(default, name):
            continue  # x264_params is the x264 spelling of params
        if name == "saliency":
            args.append("--no-saliency")
            continue
        if not settings.saliency and name not in ("params", "codec", "pix_fmt"):
            continue  # mapping options mean nothing for the plain encoder
        flag = flags.get(name, "--" + name.replace("_", "-"))
        args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return shlex.join(args)


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


#: A video this small (frames x width x height) is its own sample unless
#: windows are asked for: the trials then measure instead of predicting. The
#: sign-language clips (640x480, 87-109 frames: 27-34 million) sampled as
#: windows of 8-9 frames mispredicted the size by up to -12 % and the quality
#: by 1-4 dB at CRF 23; whole, their searches take 2-5 s instead of 1.5-3
#: (docs/quality.md). The bound keeps that extra time to 1-3 s on this 2-core
#: machine: 110 frames of 640x480, 38 of 1280x720 (bikes, 250 frames of
#: 640x272, took 10 s whole against 3.5 s as windows).
WHOLE_VIDEO_PIXELS = 35_000_000
#: Automatic window count: one per this many seconds of video, within WINDOWS.
SECONDS_PER_WINDOW = 5.0
WINDOWS = (3, 10)


def default_sample_plan(total: int, rate: float, count: int | None = None,
                        seconds: float = 1.0, share: float = 0.25,
                        min_frames: int = 8) -> tuple[int, float]:
    """Windows and window length (s) covering at most about ``share`` of the video.

    ``count`` None: one window per ``SECONDS_PER_WINDOW`` of video, 3 to 10,
    so a long video is seen in more places (three 1 s windows were 2% of a
    2-minute clip, and its size prediction was off by a third).
    """
    rate = rate or 25.0
    if count is None:
        count = min(WINDOWS[1], max(WINDOWS[0], round(total / rate / SECONDS_PER_WINDOW)))
    per_window = max(min_frames, min(round(seconds * rate), round(share * total / count)))
    return count, per_window / rate


def crf_search(input: str | os.PathLike, target: str, *,
               strengths: tuple[float, ...] | None = None,
               settings: EncodeSettings | None = None, weights: str | None = None,
               crf_range: tuple[float, float] = (10.0, 45.0), samples: int | None = None,
               sample_seconds: float | None = None, max_trials: int = 4, log=None) -> dict:
    """Search the CRF per strength on a sample; return every candidate and the cheapest.

    Parameters
    ----------
    input : path
        The video.
    target : str
        ``METRIC=VALUE`` (e.g. ``"xpsnr=38"``, ``"ssim=0.97"``): mean over frames.
    strengths : tuple of float, optional
        Candidate strengths, 0 = the plain encoder. Default: plain and the
        settings' strength.
    settings : EncodeSettings
        Passed through to every trial (preset, params, model, budget, ...).
    weights : str, optional
        Weight spec for the weighted targets (see :func:`salcodec.quality.parse_weights`).
    crf_range : (float, float)
        Allowed CRFs.
    samples : int, optional
        Sample windows; default one per 5 s of video, 3 to 10, and the whole
        video when it has at most :data:`WHOLE_VIDEO_PIXELS` (frames x width
        x height).
    sample_seconds : float, optional
        Window length; default: at most 1 s and a quarter of the video in all.
    max_trials : int
        Sample encodes per strength at most.

    Returns
    -------
    dict
        ``candidates`` (CRF, predicted quality and bytes, trials), ``best``,
        ``command`` (a ``salcodec encode`` line), ``sample``, ``seconds``.
    """
    from .io.decode import expected_frames, open_input, video_stream
    from .transcode import encode

    t_start = time.perf_counter()
    log = log or (lambda _m: None)
    metric, value = parse_target(target)
    spec = parse_weights(weights) if weights else None
    if metric in WEIGHTED_TARGETS and spec is None:
        raise SalcodecError(f"--target {metric} needs --weights (e.g. model:spectral)")
    settings = settings or EncodeSettings()
    if strengths is None:
        strengths = (0.0, settings.strength)
    strengths = tuple(dict.fromkeys(float(s) for s in strengths))
    if any(s < 0 or not math.isfinite(s) for s in strengths):
        raise SalcodecError("strengths must be numbers >= 0")
    from .codecs import get_codec

    codec = get_codec(settings.codec)
    lo, hi = crf_range
    if not 0 <= lo < hi <= codec.crf_max:
        raise SalcodecError(f"CRF range {lo:g}..{hi:g} must lie within 0..{codec.crf_max} "
                            f"for {codec.name}, low < high")
    crf_step = 1.0 if codec.crf_integer else 0.1
    if (samples is not None and samples < 1) or max_trials < 1:
        raise SalcodecError("--samples and the trial count must be at least 1")
    if sample_seconds is None or samples is None:
        with open_input(input) as src:
            vin = video_stream(src, input)
            rate = float(vin.average_rate or vin.guessed_rate or 25)
            total = expected_frames(vin)
            pixels = vin.codec_context.width * vin.codec_context.height
        # Matroska states no frame count: count the packets (a demux, no decode).
        total = total or count_frames(input)
        if samples is None and sample_seconds is None and total * pixels <= WHOLE_VIDEO_PIXELS:
            samples, sample_seconds = 1, (total + 1) / rate  # exact: no sample, no proxy
        samples, seconds = default_sample_plan(total, rate, samples)
        sample_seconds = sample_seconds or seconds
    with tempfile.TemporaryDirectory(prefix="salcodec-crfsearch-") as tmp:
        sample = make_sample(input, Path(tmp) / "sample.mkv", count=samples,
                             seconds=sample_seconds)
        scorer = SampleScorer(sample, metric, spec, keyint=_keyint(settings))
        log(f"sample: {sample.frames} frames in {len(sample.windows)} windows "
            f"({sample.fraction:.0%} of the video)")
        encodes = 0
        # Each trial's per-frame quality and sizes: predicted again once the
        # proxy exists, never encoded twice.
        measured: dict[tuple[float, float], tuple[np.ndarray, FrameSizes, float]] = {}

        def make_runner(strength: float):
            arm = arm_settings(settings, strength)

            def run_trial(crf: float) -> Trial:
                nonlocal encodes
                if (strength, crf) not in measured:
                    t0 = time.perf_counter()
                    out = Path(tmp) / "trial.mkv"
                    encode(sample.path, out, arm.with_(crf=crf), overwrite=True, progress=False)
                    measured[strength, crf] = (*scorer.score(out),
                                               round(time.perf_counter() - t0, 2))
                    encodes += 1
                values, sizes, seconds = measured[strength, crf]
                q, b = scorer.predict(values, sizes, crf)
                t = Trial(crf=crf, quality=q, bytes=round(b), sample_bytes=int(sizes.bytes.sum()),
                          seconds=seconds)
                log(f"strength {strength:g} CRF {crf:g}: {metric} {q:.4f}, "
                    f"predicted {t.bytes:,} bytes ({t.seconds:.1f} s)")
                return t

            return run_trial

        candidates: list[Candidate] = []
        start, slopes = settings.crf, None
        for s in strengths:
            if candidates:
                prev = candidates[-1].strength
                start = candidates[-1].crf + (start_shift(metric, settings, s)
                                              - start_shift(metric, settings, prev))
            run = make_runner(s)
            cand, slopes = search_strength(run, s, value, metric, (lo, hi), start,
                                           slopes, max_trials, crf_step)
            if scorer.sample.proxy is None and scorer.sample.fraction < 1:
                # The proxy is encoded at the first answer's CRF, where its
                # sizes and quality shift hold best; that strength's trials are
                # predicted again with it and its answer refined.
                plain = settings.baseline().with_(crf=cand.crf)
                scorer.use(with_proxy(sample, plain, metric))
                log(f"size proxy at CRF {cand.crf:g}: predictions raised by "
                    f"{scorer.shift:.2f} for the windows' cold starts")
                tried = [run(c) for strength, c in measured if strength == s]
                cand, slopes = search_strength(run, s, value, metric, (lo, hi), cand.crf,
                                               slopes, max_trials, crf_step, tried)
            cand.settings = arm_settings(settings, s).with_(crf=cand.crf).as_dict()
            candidates.append(cand)
        sample = scorer.sample
    reached = [c for c in candidates if c.reached]
    best = min(reached, key=lambda c: c.predicted_bytes) if reached else None
    baseline = next((c for c in candidates if c.strength == 0 and c.reached), None)
    best_settings = (arm_settings(settings, best.strength).with_(crf=best.crf)
                     if best else None)
    return {
        "input": str(input), "target": {"metric": metric, "value": value},
        "weights": str(spec) if spec else None,
        "sample": {"windows": [list(w) for w in sample.windows], "frames": sample.frames,
                   "fraction_of_video": sample.fraction, "source_frames": sample.source_frames,
                   # The sizes' source: None when the sample is the whole video.
                   "size_proxy": ({"width": sample.proxy.size[0],
                                   "height": sample.proxy.size[1], "crf": sample.proxy.crf,
                                   "codec": settings.codec,
                                   # Added to the non-key frames' predicted quality
                                   # (dB; for SSIM in -10 log10(1 - SSIM)).
                                   "quality_shift": scorer.shift} if sample.proxy else None)},
        "settings": settings.as_dict(),
        "candidates": [asdict(c) for c in candidates],
        "best": asdict(best) if best else None,
        "command": encode_command(input, "OUTPUT.mp4", best_settings) if best else None,
        "saving_vs_baseline": (1 - best.predicted_bytes / baseline.predicted_bytes
                               if best and baseline else None),
        "sample_encodes": encodes,
        "seconds": round(time.perf_counter() - t_start, 2),
    }


def best_settings(result: dict) -> EncodeSettings:
    """The :class:`EncodeSettings` of ``result["best"]``."""
    if not result.get("best"):
        raise SalcodecError("no candidate reached the target")
    return EncodeSettings(**result["best"]["settings"])
