"""crf-search's sample, decoded once: scores each trial encode and predicts the full one."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import SalcodecError
from ..quality.measure import PSNR_MAX_DB, score_frame, scoring_threads
from ..quality.video import FramePair, TimedFrame, VideoReader
from ..quality.xpsnr import XPSNR, block_size, block_weights, xpsnr_with_weights
from ..sampling import Sample
from ..sizeproxy import FrameSizes
from .secant import from_linear, to_linear

#: Share of the proxy's measured quality loss added back to a trial's
#: prediction. PSNR of 53 predictions (29 clips, CRF 20-28) against the real
#: encodes: with all of it 11 lay above the real encode, by up to 0.36 dB; with
#: three quarters 3 (up to 0.04 dB); with half none, mean error -1.07 dB
#: against -1.63 dB without it. Held out (8 clips at CRF 18 and 32): -0.82
#: against -1.16 dB, none above (docs/quality.md). A target is a minimum.
SHIFT_SHARE = 0.5
#: CRF units above the size proxy's CRF at which its quality shift has faded out.
SHIFT_FADE_CRF = 10.0
#: x264's default keyframe interval (frames).
X264_KEYINT = 250


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
        src_index = sample.indices
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
        threads = 1 if meter is not None else scoring_threads()
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
