"""The size proxy's quality on the sample's frames: what a sample's windows cost in quality.

A trial encode of the sample scores lower than the full encode on the same
frames: each window is short, so x264's MB-tree and look-ahead see only a few
frames ahead before the next window's cut and spend less on the blocks later
frames would reference. Measured on six clips at CRF 26, plain x264, preset
medium: the sample's non-key frames 0.1-1.6 dB PSNR below the same frames of
the full encode (docs/quality.md). The two proxy encodes of
:mod:`salcodec.sizeproxy` (the whole video and the windows, both tiled from
the same frames) show the same loss at a quarter of the cost: the target
metric of each sample frame's proxy picture, decoded from both, is what
:meth:`salcodec.search.scorer.SampleScorer.predict` adds back.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np

from .io.conform import frame_planes
from .quality.measure import score_frame, scoring_threads

#: A weighted target is corrected by its unweighted metric: the loss is the
#: windows' temporal structure, not where the weights lie (and the weight maps
#: belong to whole frames, not to the proxy's tiles).
UNWEIGHTED = {"wpsnr": "psnr", "wssim": "ssim"}


def scorable(metric: str, pix_fmt: str) -> bool:
    """Whether crf-search corrects ``metric`` with the proxies of ``pix_fmt``.

    Not XPSNR: on the tiles it measured losses the full-size encodes did not
    have (basketballpass 0.33 dB where the prediction without it was within
    0.02 dB; on partyscene it turned two met targets into misses of 0.07 and
    0.17 dB), its block size and activity being those of a quarter-size picture.
    """
    return pix_fmt == "yuv420p" and UNWEIGHTED.get(metric, metric) in (
        "psnr", "psnr_yuv", "ssim")


def window_quality(
    pictures: Sequence[tuple[np.ndarray, ...]],
    frames: Sequence[int],
    full: str | os.PathLike,
    windows: str | os.PathLike,
    metric: str,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per sample frame, ``metric`` of its proxy picture in the full and the windows' proxy.

    Parameters
    ----------
    pictures : sequence of (Y, U, V) uint8 planes
        The proxy pictures of the sample's frames, in sample order.
    frames : sequence of int
        Each sample frame's index in the video (the full proxy's frame number).
    full, windows : path
        The proxy encodes of the whole video and of the windows back to back.
    metric : str
        A crf-search target that is :func:`scorable` (:data:`UNWEIGHTED`
        maps the weighted ones).

    Returns
    -------
    (full, windows) : two float arrays of ``len(pictures)``, or None
        None when a proxy lacks one of the frames.
    """
    if not scorable(metric, "yuv420p"):
        raise ValueError(f"{metric} is not scored on the proxy's tiles")
    metric = UNWEIGHTED.get(metric, metric)
    where = {f: i for i, f in enumerate(frames)}
    out = np.full((2, len(pictures)), np.nan)

    def put(row: int, i: int, dist: tuple[np.ndarray, ...]) -> None:
        out[row, i] = score_frame([metric], pictures[i], dist)[metric]

    # Scored on a thread per core while decoding goes on (the metrics' kernels
    # release the GIL), as SampleScorer scores the trials.
    with ThreadPoolExecutor(scoring_threads()) as pool:
        jobs = []
        for row, path in enumerate((full, windows)):
            with av.open(str(path)) as c:
                c.streams.video[0].thread_type = "AUTO"
                for n, frame in enumerate(c.decode(video=0)):
                    i = where.get(n) if row == 0 else (n if n < len(pictures) else None)
                    if i is not None:
                        dist = tuple(np.array(p) for p in frame_planes(frame))
                        jobs.append(pool.submit(put, row, i, dist))
        for job in jobs:
            job.result()
    if np.isnan(out).any():
        return None
    return out[0], out[1]
