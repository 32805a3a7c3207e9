"""Human gaze on video: find gaze videos and score saliency maps against their gaze.

A gaze video is a folder holding the clip and one table of gaze samples,
laid out like ``../shared/data/gaze-video/*``::

    CLIP/clip.mkv     the frames shown (any video PyAV reads: clip.mp4, ...)
    CLIP/gaze.csv     one row per gaze sample (columns: :mod:`.gazetable`)

Scores per frame, as in the MIT benchmark's code (:mod:`.metrics`): AUC-Judd
and NSS against the frame's fixation units (one per recording, the mean of
its samples on that frame), CC against a density map pooled over
``DEFAULT_POOL`` frames on each side; per clip, the means over the frames
that have any fixation. The centre prior is scored beside every model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, SalcodecError
from .gazetable import (
    CLIP_STEM,
    DEFAULT_POOL,
    FRAME_DEGREES,
    GAZE_TABLE,
    GazeVideo,
    find_clip,
    gaussian_sum,
    read_gaze_table,
)
from .metrics import auc_judd, cc, nss

#: Metrics scored per frame (names as in :mod:`salcodec.saliency.metrics`).
VIDEO_METRICS = ("auc_judd", "nss", "cc")

__all__ = [
    "DEFAULT_POOL",
    "FRAME_DEGREES",
    "HUMAN_ROW",
    "VIDEO_METRICS",
    "GazeVideo",
    "evaluate_video",
    "find_gaze_videos",
    "gaussian_sum",
    "is_gaze_dataset",
    "is_gaze_video",
    "iter_rgb",
    "read_gaze_table",
    "score_frame",
    "score_video",
]


def is_gaze_video(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding ``gaze.csv`` and a ``clip.*`` video."""
    path = Path(path)
    return path.is_dir() and (path / GAZE_TABLE).is_file() and find_clip(path) is not None


def is_gaze_dataset(path: str | Path) -> bool:
    """Whether ``path`` is a gaze video or a folder with gaze videos in it."""
    path = Path(path)
    if is_gaze_video(path):
        return True
    return path.is_dir() and any(is_gaze_video(p) for p in path.iterdir() if p.is_dir())


def find_gaze_videos(root: str | Path) -> list[GazeVideo]:
    """Read every gaze video under ``root`` (itself one, or a folder of them).

    Raises
    ------
    SalcodecError
        When ``root`` is missing or holds no gaze video; InputError for a
        bad table or clip.
    """
    root = Path(root)
    if not root.is_dir():
        raise SalcodecError(f"{root}: no such dataset folder")
    if is_gaze_video(root):
        folders = [root]
    else:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and is_gaze_video(p))
    if not folders:
        raise SalcodecError(
            f"{root}: no gaze video (expected {GAZE_TABLE} and {CLIP_STEM}.mkv, "
            "or subfolders holding them)"
        )
    return [read_gaze_table(f / GAZE_TABLE, find_clip(f), name=f.name) for f in folders]


def iter_rgb(path: str | Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """Decode a video frame by frame as RGB uint8 (streaming: one frame in memory)."""
    import av

    from ..io.decode import ffmpeg_cause, open_input, video_stream

    with open_input(path) as container:
        stream = video_stream(container, path)
        stream.thread_type = "AUTO"
        k = 0
        try:
            for frame in container.decode(stream):
                if limit is not None and k >= limit:
                    return
                yield frame.to_ndarray(format="rgb24")
                k += 1
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: decoding failed at frame {k} ({ffmpeg_cause(exc)})"
                             ) from None


def _resized(saliency: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    saliency = np.asarray(saliency, dtype=np.float32)
    if saliency.ndim != 2:
        raise ValueError(f"saliency map must be 2-D, got shape {saliency.shape}")
    if saliency.shape == shape:
        return saliency
    return cv2.resize(saliency, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def score_frame(saliency: np.ndarray, fixations: np.ndarray, density: np.ndarray) -> dict:
    """AUC-Judd and NSS against a fixation mask, CC against a density map (same shape)."""
    return {
        "auc_judd": auc_judd(saliency, fixations),
        "nss": nss(saliency, fixations),
        "cc": cc(saliency, density),
    }


def _summary(per_frame: list[dict], skipped: int, seconds: float | None = None) -> dict:
    out: dict = {
        m: float(np.mean([f[m] for f in per_frame])) if per_frame else math.nan
        for m in VIDEO_METRICS
    }
    out["frames"] = len(per_frame)
    out["skipped"] = skipped
    if seconds is not None:
        out["seconds"] = seconds
    out["per_frame"] = per_frame
    return out


def _truth(gv: GazeVideo, k: int, shape: tuple[int, int], sigma: float | None, pool: int):
    """(fixation mask, density, units) of frame k, or None when it has no fixation."""
    mask = gv.fixation_mask(k, shape)
    if not mask.any():
        return None
    return mask, gv.density(k, shape, sigma, pool), len(gv.fixations(k))


def score_video(
    maps: Iterable[np.ndarray],
    gv: GazeVideo,
    sigma: float | None = None,
    pool: int = DEFAULT_POOL,
    start: int = 0,
    shape: tuple[int, int] | None = None,
) -> dict:
    """Score per-frame saliency maps against a clip's gaze.

    Parameters
    ----------
    maps : iterable of ndarray, shape (h, w)
        Map of frame ``start``, ``start + 1``, ...; any size (resized
        bilinearly to the clip's frame), any real scale.
    gv : GazeVideo
        The gaze (see :func:`read_gaze_table`).
    sigma, pool : optional
        Density map of each frame, see :meth:`GazeVideo.density`.
    start : int
        Frame index of the first map.
    shape : (H, W), optional
        Score at this size instead of the clip's frame size (maps and
        fixations are scaled to it; a default ``sigma`` stays one degree).
        Tuning on cached small maps: at 256x146 a frame costs about a tenth
        of 832x480's (measured 5 ms against 51 ms of CPU per frame).

    Returns
    -------
    dict
        ``auc_judd``, ``nss``, ``cc``: means over the scored frames (NaN
        when none); ``frames``: frames scored; ``skipped``: maps of frames
        without any fixation (not scored); ``per_frame``: one dict per scored
        frame with ``frame``, ``fixations`` (units) and the three scores.
    """
    per_frame = []
    skipped = 0
    for k, sal in enumerate(maps, start):
        sal = np.asarray(sal)
        size = shape or ((gv.height, gv.width) if gv.width and gv.height else sal.shape[:2])
        size = (int(size[0]), int(size[1]))
        truth = _truth(gv, k, size, sigma, pool)
        if truth is None:
            skipped += 1
            continue
        mask, density, units = truth
        per_frame.append({"frame": k, "fixations": units,
                          **score_frame(_resized(sal, size), mask, density)})
    return _summary(per_frame, skipped)


#: Row ``evaluate_video(..., human=True)`` adds: the pooled density itself.
HUMAN_ROW = "human density (ceiling)"


def evaluate_video(
    model: str | Callable[[np.ndarray], np.ndarray] | Mapping[str, object],
    gv: GazeVideo,
    centre: bool = True,
    limit: int | None = None,
    sigma: float | None = None,
    pool: int = DEFAULT_POOL,
    human: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Run saliency models over a clip's frames in order and score them on its gaze.

    The clip is decoded once, frame by frame (never held whole in memory);
    each model sees every frame in order, so temporal models keep their
    state as the encoder's would.

    Parameters
    ----------
    model : str, callable or mapping
        A model name (see :func:`salcodec.saliency.available_models`), a model
        instance (``model(rgb) -> map``), or ``{row name: name or instance}``.
        Names get a fresh instance for this clip.
    gv : GazeVideo
        The clip (``gv.clip`` must be set) and its gaze.
    centre : bool
        Also score the ``centre`` prior (row ``"centre"``), the baseline.
    limit : int, optional
        Only the first ``limit`` frames.
    sigma, pool : optional
        Density maps for CC, see :meth:`GazeVideo.density`.
    human : bool
        Also score the pooled density itself (row ``HUMAN_ROW``): a ceiling,
        since it is built from the very fixations it is scored on.
    progress : callable, optional
        Receives a line every 25 frames.

    Returns
    -------
    dict
        Row name -> :func:`score_video`'s dict plus ``seconds`` (model time).
    """
    from . import get_model

    if gv.clip is None:
        raise SalcodecError(f"{gv.table}: no clip to run the models on")
    if isinstance(model, Mapping):
        specs = dict(model)
    else:
        specs = {model if isinstance(model, str) else getattr(model, "name", "") or "model": model}
    if centre and "centre" not in specs:
        specs["centre"] = "centre"
    models = {row: get_model(m) if isinstance(m, str) else m for row, m in specs.items()}
    rows = list(models) + ([HUMAN_ROW] if human else [])
    per_frame: dict[str, list[dict]] = {row: [] for row in rows}
    seconds = dict.fromkeys(rows, 0.0)
    skipped = 0
    k = -1
    for k, rgb in enumerate(iter_rgb(gv.clip, limit)):
        shape = rgb.shape[:2]
        maps = {}
        for row, m in models.items():
            t0 = time.perf_counter()
            maps[row] = m(rgb)  # every frame, scored or not: temporal state
            seconds[row] += time.perf_counter() - t0
        truth = _truth(gv, k, shape, sigma, pool)
        if truth is None:
            skipped += 1
        else:
            mask, density, units = truth
            if human:
                maps[HUMAN_ROW] = density
            for row, sal in maps.items():
                per_frame[row].append({"frame": k, "fixations": units,
                                       **score_frame(_resized(sal, shape), mask, density)})
        if progress is not None and (k + 1) % 25 == 0:
            progress(f"{gv.name}: {k + 1} frames")
    if k < 0:
        raise InputError(f"{gv.clip}: no frames decoded")
    return {row: _summary(per_frame[row], skipped, seconds[row] if row in models else None)
            for row in rows}
