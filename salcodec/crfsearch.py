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
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from .errors import SalcodecError
from .io.containers import DROP_FLAGS
from .quality.measure import vmaf_error
from .quality.weights import parse_weights
from .sampling import count_frames, make_sample, with_proxy
from .search.scorer import X264_KEYINT, SampleScorer
from .search.secant import Candidate, Trial, search_strength
from .settings import EncodeSettings
from .sizeproxy import FrameSizes

#: Metrics a target may name (all higher-is-better, mean over frames).
TARGET_METRICS = ("psnr", "psnr_yuv", "ssim", "xpsnr", "wpsnr", "wssim", "wxpsnr")
WEIGHTED_TARGETS = ("wpsnr", "wssim", "wxpsnr")
#: Where a strength's first trial starts, CRF units per unit of strength from
#: the previous strength's answer, for an unweighted target under the attended
#: budget (which spends less outside the salient region, so the whole frame's
#: quality at one CRF is lower). Median of 34 searches at strength 2 on eleven
#: clips of ../shared/data (ssim=0.97, psnr=38, xpsnr=38): -2.4 CRF, range
#: -1.3 to -3.0 (docs/quality.md). Within ACCEPT_CRF of the answer one trial
#: suffices; the search makes a second one when the guess is off.
CRF_PER_STRENGTH = -1.2


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


def encode_command(input: str | os.PathLike, output: str, settings: EncodeSettings,
                   drop: Iterable[str] = ()) -> str:
    """A copy-pasteable ``salcodec encode`` line for ``settings``.

    ``--crf`` and ``--preset`` always; other options only where they differ
    from the defaults; saliency options are left out for the plain encoder;
    ``-an``/``-sn``/``-dn`` for the stream kinds in ``drop``.
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
    args += [flag for kind, flag in DROP_FLAGS.items() if kind in drop]
    return shlex.join(args)


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
        # Each trial's per-frame quality and sizes: predicted again once the
        # proxy exists, never encoded twice.
        measured: dict[tuple[float, float], tuple[np.ndarray, FrameSizes, float]] = {}

        def make_runner(strength: float):
            arm = arm_settings(settings, strength)

            def run_trial(crf: float) -> Trial:
                if (strength, crf) not in measured:
                    t0 = time.perf_counter()
                    out = Path(tmp) / "trial.mkv"
                    encode(sample.path, out, arm.with_(crf=crf), overwrite=True, progress=False)
                    measured[strength, crf] = (*scorer.score(out),
                                               round(time.perf_counter() - t0, 2))
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
        "sample_encodes": len(measured),
        "seconds": round(time.perf_counter() - t_start, 2),
    }


def best_settings(result: dict) -> EncodeSettings:
    """The :class:`EncodeSettings` of ``result["best"]``."""
    if not result.get("best"):
        raise SalcodecError("no candidate reached the target")
    return EncodeSettings(**result["best"]["settings"])
