"""Fixation datasets on disk, and scoring saliency models against them.

A dataset is a folder laid out like ``../shared/data/fixations/*``::

    DATASET/stimuli/NAME.(jpg|jpeg|png|...)      the images shown
    DATASET/fixation_points/[full/]NAME.*        optional: fixated pixels
    DATASET/maps/[full/]NAME.*                   optional: fixation density maps

(fixated pixels: > 127, or 1 in a 0/1 mask)

(also accepted: ``images/`` for the stimuli, ``fixations/`` or
``fixation_locations/`` for the points, ``fixation_maps/`` or
``density_maps/`` for the maps).

At least one of ``fixation_points`` and ``maps`` must exist; files pair by
name stem, ignoring a suffix such as MIT1003's ``_fixMap``/``_fixPts`` on
ground-truth names (``GT_NAME_SUFFIXES``). Where the ground-truth folder
has subfolders (etocvd's ``full`` and ``excluding_200ms``) the one named
``full`` is used, else the first in sorted order. ``.npy`` arrays are
accepted besides images.

What is derived when one kind of ground truth is missing:

* No fixation points (mit1003-100): the points are the local maxima of the
  density map, after a light Gaussian blur (sigma 1 px) that breaks the
  plateaus JPEG leaves, at least ``2 %`` of the long side apart and at least
  ``10 %`` of the map's maximum (:func:`fixations_from_density`). The
  density map is a blur of all viewers' fixations, so its peaks sit where
  fixations cluster; there are fewer of them than real fixations.
* No density map: the fixation points blurred with a Gaussian of sigma
  ``3 %`` of the long side, about one degree of visual angle in the usual
  set-ups (:func:`density_from_fixations`).

A dataset may also be a gaze video (``clip.mkv`` + ``gaze.csv``, see
:mod:`salcodec.saliency.videogaze`) or a folder of them
(``../shared/data/gaze-video``): :func:`dataset_layout` tells which, and
:func:`evaluate_videos` scores models on every clip.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import SalcodecError
from .metrics import METRICS, score_all
from .videogaze import HUMAN_ROW as VIDEO_HUMAN_ROW
from .videogaze import evaluate_video, find_gaze_videos, is_gaze_dataset

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
GT_SUFFIXES = IMAGE_SUFFIXES | {".npy"}
POINT_FOLDERS = ("fixation_points", "fixations", "fixation_locations")
MAP_FOLDERS = ("maps", "fixation_maps", "density_maps")
STIMULI_FOLDERS = ("stimuli", "images")
#: Suffixes some datasets add to ground-truth names (MIT1003: NAME_fixMap.jpg,
#: NAME_fixPts.jpg); a file pairs with stimulus NAME when no exact name does.
GT_NAME_SUFFIXES = ("_fixmap", "_fixpts", "_fixations", "_fixation", "_density", "_map", "_pts")


@dataclass(frozen=True)
class FixationSample:
    """One stimulus with the paths of its ground truth (either may be None)."""

    name: str
    stimulus: Path
    points: Path | None
    density: Path | None


def _gt_folder(root: Path, candidates: Iterable[str]) -> Path | None:
    for name in candidates:
        folder = root / name
        if folder.is_dir():
            subdirs = sorted(p for p in folder.iterdir() if p.is_dir())
            if subdirs and not any(p.suffix.lower() in GT_SUFFIXES for p in folder.iterdir()):
                full = [p for p in subdirs if p.name == "full"]
                return full[0] if full else subdirs[0]
            return folder
    return None


def _by_stem(folder: Path | None, suffixes: set[str]) -> dict[str, Path]:
    if folder is None:
        return {}
    found = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in suffixes}
    for stem, path in list(found.items()):
        for tail in GT_NAME_SUFFIXES:
            if stem.lower().endswith(tail) and len(stem) > len(tail):
                found.setdefault(stem[: -len(tail)], path)  # an exact name wins
                break
    return found


def find_samples(root: str | Path) -> list[FixationSample]:
    """List the stimuli of a dataset folder that have some ground truth.

    Raises
    ------
    SalcodecError
        When the folder, its ``stimuli`` or all ground truth are missing.
    """
    root = Path(root)
    if not root.is_dir():
        raise SalcodecError(f"{root}: no such dataset folder")
    folder = next((root / n for n in STIMULI_FOLDERS if (root / n).is_dir()), None)
    stimuli = _by_stem(folder, IMAGE_SUFFIXES)
    if not stimuli:
        raise SalcodecError(f"{root}: no images under stimuli/")
    points = _by_stem(_gt_folder(root, POINT_FOLDERS), GT_SUFFIXES)
    maps = _by_stem(_gt_folder(root, MAP_FOLDERS), GT_SUFFIXES)
    if not points and not maps:
        raise SalcodecError(
            f"{root}: no ground truth (expected fixation_points/ or maps/ beside stimuli/)"
        )
    samples = [
        FixationSample(stem, path, points.get(stem), maps.get(stem))
        for stem, path in stimuli.items()
        if stem in points or stem in maps
    ]
    if not samples:
        raise SalcodecError(f"{root}: no stimulus has a ground-truth file of the same name")
    return samples


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8; SalcodecError naming the file if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SalcodecError(f"{path}: cannot read as an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _read_gray(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path)
        except (OSError, ValueError) as exc:
            raise SalcodecError(f"{path}: cannot read as a numpy array ({exc})") from None
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise SalcodecError(f"{path}: cannot read as an image")
        if arr.ndim == 3:
            arr = arr[..., :3].max(axis=2)
    if arr.ndim != 2:
        raise SalcodecError(f"{path}: expected a 2-D map, got shape {arr.shape}")
    return arr


def fixations_from_density(
    density: np.ndarray, min_distance: float = 0.02, threshold_rel: float = 0.1
) -> np.ndarray:
    """Fixation points as the local maxima of a density map.

    Parameters
    ----------
    density : ndarray, shape (H, W)
        Non-negative fixation density.
    min_distance : float
        Minimum distance between peaks as a fraction of the long side.
    threshold_rel : float
        Peaks below this fraction of the maximum are dropped.

    Returns
    -------
    ndarray of bool, shape (H, W)
        True at each derived fixation (at least one: the global maximum).
    """
    from skimage.feature import peak_local_max

    density = np.asarray(density, dtype=np.float32)
    if density.ndim != 2:
        raise ValueError(f"density map must be 2-D, got shape {density.shape}")
    smooth = cv2.GaussianBlur(density, (0, 0), 1.0)
    distance = max(1, round(min_distance * max(density.shape)))
    peaks = peak_local_max(
        smooth, min_distance=distance, threshold_rel=threshold_rel, exclude_border=False
    )
    out = np.zeros(density.shape, dtype=bool)
    if len(peaks):
        out[peaks[:, 0], peaks[:, 1]] = True
    else:
        out[np.unravel_index(int(np.argmax(smooth)), smooth.shape)] = True
    return out


def density_from_fixations(fixations: np.ndarray, sigma: float = 0.03) -> np.ndarray:
    """Blur fixation points into a density map (sigma as a fraction of the long side)."""
    fixations = np.asarray(fixations, dtype=np.float32)
    return cv2.GaussianBlur(fixations, (0, 0), sigma * max(fixations.shape))


def load_ground_truth(sample: FixationSample, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Fixation points (bool) and density (float32) of a sample, both of ``shape``.

    ``shape`` is the stimulus size; ground truth of another size is resampled
    to it (points keep their relative position).
    """
    fixations = density = None
    if sample.points is not None:
        raw = _read_gray(sample.points)
        # Images store points as bright pixels, 255 (JPEG blurs them:
        # threshold at half range) or 1 (a 0/1 mask); .npy arrays as any
        # positive value.
        if sample.points.suffix.lower() == ".npy":
            pts = raw > 0
        else:
            pts = raw > (0.5 if raw.max() <= 1 else 127)
        if pts.shape != tuple(shape):
            ys, xs = np.nonzero(pts)
            pts = np.zeros(shape, dtype=bool)
            pts[(ys * shape[0]) // raw.shape[0], (xs * shape[1]) // raw.shape[1]] = True
        if pts.any():
            fixations = pts
    if sample.density is not None:
        density = _read_gray(sample.density).astype(np.float32)
        if density.shape != tuple(shape):
            density = cv2.resize(density, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        density = np.maximum(density, 0)
        if density.max() <= 0:
            density = None
    if fixations is None and density is None:
        raise SalcodecError(f"{sample.points or sample.density}: ground truth is empty")
    if fixations is None:
        fixations = fixations_from_density(density)
    if density is None:
        density = density_from_fixations(fixations)
    return fixations, density


def iter_dataset(
    root: str | Path, limit: int | None = None
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(name, rgb, fixations, density)`` for each sample of a dataset."""
    samples = find_samples(root)
    for sample in samples[:limit]:
        rgb = read_rgb(sample.stimulus)
        fixations, density = load_ground_truth(sample, rgb.shape[:2])
        yield sample.name, rgb, fixations, density


#: Rows ``evaluate(..., human=True)`` adds: the ground truth scored against itself.
HUMAN_ROWS = ("human density map (ceiling)", "human map blurred 4% (smooth ceiling)")
#: Blur of the smooth ceiling, a fraction of the long side: about as smooth as
#: the models' maps, so it shows what a perfect *smooth* map could score.
HUMAN_BLUR = 0.04


def evaluate(
    root: str | Path,
    models: dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]],
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
    human: bool = False,
) -> dict[str, dict[str, float]]:
    """Mean metrics of several models over a dataset.

    Parameters
    ----------
    root : path
        Dataset folder (see the module docstring).
    models : dict
        Row name -> factory returning a fresh model (called once per image,
        so no temporal state leaks between unrelated stills).
    limit : int, optional
        Use only the first ``limit`` images (sorted by name).
    progress : callable, optional
        Receives one line per image.
    human : bool
        Also score the human density map itself and the same blurred by
        ``HUMAN_BLUR`` (rows ``HUMAN_ROWS``): how far any map could go.

    Returns
    -------
    dict
        Row name -> {metric: mean, ..., "n": images, "seconds": model time}.
    """
    rows = list(models) + (list(HUMAN_ROWS) if human else [])
    scores: dict[str, dict[str, list[float]]] = {name: {m: [] for m in METRICS} for name in rows}
    seconds = dict.fromkeys(rows, 0.0)
    n = 0
    for name, rgb, fixations, density in iter_dataset(root, limit):
        n += 1
        maps = {}
        for row, factory in models.items():
            model = factory()
            t0 = time.perf_counter()
            maps[row] = model(rgb)
            seconds[row] += time.perf_counter() - t0
        if human:
            sigma = HUMAN_BLUR * max(density.shape)
            maps[HUMAN_ROWS[0]] = density
            maps[HUMAN_ROWS[1]] = cv2.GaussianBlur(density, (0, 0), sigma)
        for row, sal in maps.items():
            for metric, value in score_all(sal, fixations, density).items():
                scores[row][metric].append(value)
        if progress is not None:
            progress(f"{n}: {name}")
    return {
        row: {**{m: float(np.mean(v)) for m, v in per.items()}, "n": n, "seconds": seconds[row]}
        for row, per in scores.items()
    }


def dataset_layout(root: str | Path) -> str:
    """``"gaze-video"`` for a gaze video or a folder of them, else ``"stills"``."""
    return "gaze-video" if is_gaze_dataset(root) else "stills"


def evaluate_videos(
    root: str | Path,
    models: dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]],
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
    human: bool = False,
) -> dict[str, dict[str, dict]]:
    """Score several models on every gaze video under ``root``.

    Parameters
    ----------
    root : path
        A gaze video (``clip.mkv`` + ``gaze.csv``) or a folder of them.
    models : dict
        Row name -> factory returning a fresh model (called once per clip;
        the model then sees the clip's frames in order).
    limit : int, optional
        Only the first ``limit`` frames of each clip.
    progress : callable, optional
        Receives a line now and then.
    human : bool
        Also score the pooled human density itself (row
        ``videogaze.HUMAN_ROW``): a ceiling.

    Returns
    -------
    dict
        Clip name -> ``{"size": [width, height], "models": {row: scores}}``,
        scores as :func:`videogaze.evaluate_video` returns them
        (``auc_judd``, ``nss``, ``cc`` means, ``frames``, ``skipped``,
        ``seconds``, ``per_frame``).
    """
    out = {}
    for gv in find_gaze_videos(root):
        rows = evaluate_video({row: factory() for row, factory in models.items()}, gv,
                              centre=False, limit=limit, human=human, progress=progress)
        out[gv.name] = {"size": [gv.width, gv.height], "models": rows}
    return out


__all__ = [
    "HUMAN_ROWS",
    "VIDEO_HUMAN_ROW",
    "FixationSample",
    "dataset_layout",
    "density_from_fixations",
    "evaluate",
    "evaluate_videos",
    "find_samples",
    "fixations_from_density",
    "iter_dataset",
    "load_ground_truth",
    "read_rgb",
]
