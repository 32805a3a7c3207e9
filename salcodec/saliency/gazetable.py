"""A clip's gaze table: per-recording, per-frame fixation units and density maps.

``gaze.csv`` (see :mod:`salcodec.saliency.videogaze` for the folder layout)
has a header row. Required columns: ``clip_frame_0based`` (the frame on
screen, 0-based), ``recording_id`` (one viewing; any text), ``x_px`` and
``y_px`` (where the sample landed, in pixels of the clip). Optional:
``in_frame`` (0 drops the row). Other columns are ignored. Short names are
accepted too: ``frame``, ``recording``, ``x``, ``y``.

Coordinates are continuous with the picture spanning ``[0, W) x [0, H)``:
pixel ``j`` covers ``[j, j + 1)`` (``x_px = x_screen * W / screen_width``
in the VED100 tables). Samples outside the picture, or with a non-finite
coordinate, are dropped.

The fixation unit, as usual for AUC-Judd and NSS on video: one point per
recording per frame, the mean of that recording's in-frame samples on the
frame (:meth:`GazeVideo.fixations`). The density map that CC needs pools a
few neighbouring frames (``pool`` on each side) and blurs the points with a
Gaussian of about one degree of visual angle (:meth:`GazeVideo.density`).
Two recordings whose points fall in the same pixel count once in the
fixation mask (as the MIT benchmark's point maps do).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

#: Name of the gaze table inside a gaze-video folder.
GAZE_TABLE = "gaze.csv"
#: Stem of the clip inside a gaze-video folder (``clip.mkv``, ``clip.mp4``...).
CLIP_STEM = "clip"
VIDEO_SUFFIXES = (".mkv", ".mp4", ".mov", ".m4v", ".avi", ".webm", ".y4m", ".ts", ".nut")
#: Canonical column -> accepted header names (first match wins).
COLUMNS = {
    "frame": ("clip_frame_0based", "frame"),
    "recording": ("recording_id", "recording", "subject"),
    "x": ("x_px", "x"),
    "y": ("y_px", "y"),
}
#: Default sigma of the fixation Gaussians: one degree when the frame spans
#: 30 degrees horizontally (as the quality module's ``fixations:`` weights).
FRAME_DEGREES = 30.0
#: Frames pooled on each side of frame k for its density map (5 frames in all).
DEFAULT_POOL = 2


@dataclass(frozen=True, eq=False)
class GazeVideo:
    """The gaze of one clip: fixation units sorted by frame.

    Build one with :func:`read_gaze_table` or :func:`find_gaze_videos`.

    Attributes
    ----------
    name : str
        The clip's name (its folder).
    table : Path
        The gaze table read.
    clip : Path or None
        The clip the gaze was recorded on (None when the table came alone).
    width, height : int or None
        Frame size of the clip, the space of the coordinates (None: unknown).
    frames : ndarray of int64, shape (M,)
        Frame of each fixation unit, ascending.
    recordings : ndarray of int64, shape (M,)
        Recording of each unit (an index into ``recording_names``).
    xy : ndarray of float64, shape (M, 2)
        (x, y) of each unit: the mean of the recording's samples on the frame.
    recording_names : tuple of str
        The table's recording ids.
    samples : int
        In-frame samples the units were averaged from.
    """

    name: str
    table: Path
    clip: Path | None
    width: int | None
    height: int | None
    frames: np.ndarray
    recordings: np.ndarray
    xy: np.ndarray
    recording_names: tuple[str, ...]
    samples: int

    @property
    def n_frames(self) -> int:
        """One past the last frame that has gaze (0 for an empty table)."""
        return int(self.frames[-1]) + 1 if self.frames.size else 0

    def fixations(self, k: int, pool: int = 0) -> np.ndarray:
        """Fixation units of frame ``k``: (x, y) in clip pixels, one per recording.

        Parameters
        ----------
        k : int
            Frame index.
        pool : int
            Also the units of frames ``k - pool .. k + pool`` (one per
            recording per frame).

        Returns
        -------
        ndarray, shape (N, 2), float64
            Empty (shape (0, 2)) when nobody's gaze was in the frame(s).
        """
        if pool < 0:
            raise ValueError(f"pool must be >= 0, got {pool}")
        lo, hi = np.searchsorted(self.frames, [k - pool, k + pool + 1])
        return self.xy[lo:hi]

    def _scaled(self, points: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
        """Pixel indices (rows, cols) of points in a frame of ``shape``."""
        h, w = shape
        sx = w / self.width if self.width else 1.0
        sy = h / self.height if self.height else 1.0
        cols = np.floor(points[:, 0] * sx).astype(np.int64)
        rows = np.floor(points[:, 1] * sy).astype(np.int64)
        keep = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
        return rows[keep], cols[keep]

    def frame_shape(self, shape: tuple[int, int] | None = None) -> tuple[int, int]:
        """``shape`` if given, else the clip's (H, W); error when neither is known."""
        if shape is not None:
            return int(shape[0]), int(shape[1])
        if self.width is None or self.height is None:
            raise ValueError(f"{self.table}: frame size unknown (no clip); pass shape")
        return self.height, self.width

    def fixation_mask(self, k: int, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Boolean map of ``shape`` (default: the clip's), True at frame k's fixations."""
        h, w = self.frame_shape(shape)
        mask = np.zeros((h, w), dtype=bool)
        rows, cols = self._scaled(self.fixations(k), (h, w))
        mask[rows, cols] = True
        return mask

    def density(
        self,
        k: int,
        shape: tuple[int, int] | None = None,
        sigma: float | None = None,
        pool: int = DEFAULT_POOL,
    ) -> np.ndarray:
        """Fixation density of frame ``k``, pooled over frames ``k - pool .. k + pool``.

        Parameters
        ----------
        k : int
            Frame index.
        shape : (H, W), optional
            Output size (default: the clip's); points are scaled to it.
        sigma : float, optional
            Gaussian standard deviation in pixels of ``shape``; default one
            degree, ``W / FRAME_DEGREES``.
        pool : int
            Neighbouring frames on each side whose units are added.

        Returns
        -------
        ndarray, shape (H, W), float32
            Sum of unit-mass Gaussians (cut at the frame edge); all zeros
            when no unit falls in the pooled frames.
        """
        h, w = self.frame_shape(shape)
        sigma = w / FRAME_DEGREES if sigma is None else float(sigma)
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        rows, cols = self._scaled(self.fixations(k, pool), (h, w))
        return gaussian_sum(rows, cols, (h, w), sigma)


def gaussian_sum(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], sigma: float
) -> np.ndarray:
    """Sum of unit-mass Gaussians centred on pixels, cut at the frame edge.

    Equals blurring an image of impulses (one per point, added) with a
    Gaussian of ``sigma`` and a zero border, without the full-frame blur:
    each Gaussian is separable, so the sum is ``Gy.T @ Gx`` with one row per
    point, a few milliseconds for a hundred points at 832x480 where the blur
    (223 taps) costs five times more.

    Parameters
    ----------
    rows, cols : ndarray of int, shape (N,)
        Pixel of each point (inside ``shape``).
    shape : (H, W)
    sigma : float
        Standard deviation in pixels.

    Returns
    -------
    ndarray, shape (H, W), float32
        All zeros when N is 0.
    """
    h, w = shape
    if len(rows) == 0:
        return np.zeros((h, w), dtype=np.float32)
    inv = np.float32(-0.5 / sigma**2)
    norm = np.float32(1.0 / (math.sqrt(2 * math.pi) * sigma))
    # Points on the same row share their vertical factor: sum their rows first.
    order = np.argsort(rows, kind="stable")
    rows = np.asarray(rows)[order]
    cols = np.asarray(cols)[order]
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    gx = np.exp(inv * (np.arange(w, dtype=np.float32)[None, :]
                       - cols.astype(np.float32)[:, None]) ** 2) * norm
    # (np.add.reduceat along axis 0 is slow; a running sum differenced at the
    # group ends is not.)
    ends = np.cumsum(gx, axis=0, dtype=np.float64)[np.r_[first[1:], len(rows)] - 1]
    gx = np.diff(ends, axis=0, prepend=0.0).astype(np.float32)
    gy = np.exp(inv * (np.arange(h, dtype=np.float32)[None, :]
                       - rows[first].astype(np.float32)[:, None]) ** 2) * norm
    return gy.T @ gx


def _column(header: list[str], name: str, path: Path) -> int:
    lowered = [h.strip().lower() for h in header]
    for alias in COLUMNS[name]:
        if alias in lowered:
            return lowered.index(alias)
    raise InputError(
        f"{path}: gaze table needs a column {' or '.join(COLUMNS[name])} (header: "
        f"{','.join(header)})"
    )


def is_gaze_header(header: Iterable[str]) -> bool:
    """Whether a header row names the columns of a gaze table (``clip_frame_0based``...)."""
    lowered = {h.strip().lower() for h in header}
    return {"clip_frame_0based", "recording_id", "x_px", "y_px"} <= lowered


def clip_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of a video's first video stream; InputError if unreadable."""
    from ..io.decode import open_input, video_stream

    with open_input(path) as container:
        cc_ = video_stream(container, path).codec_context
        return int(cc_.width), int(cc_.height)


def read_gaze_table(
    csv_path: str | Path,
    clip: str | Path | None = None,
    size: tuple[int, int] | None = None,
    name: str | None = None,
) -> GazeVideo:
    """Read a gaze table and average it into per-recording, per-frame fixation units.

    Parameters
    ----------
    csv_path : path
        The table (columns: see the module docstring).
    clip : path, optional
        The clip it belongs to; default ``clip.*`` beside the table, if any.
    size : (width, height), optional
        Frame size of the coordinates; default the clip's. Samples outside
        it are dropped; with no size known only ``in_frame`` filters.
    name : str, optional
        Default: the table's folder name.

    Returns
    -------
    GazeVideo

    Raises
    ------
    InputError
        Missing file or columns, a value that is not a number, a negative
        or fractional frame index, or no in-frame sample at all.
    """
    path = Path(csv_path)
    if clip is None:
        clip = find_clip(path.parent)
    clip = Path(clip) if clip is not None else None
    if size is None and clip is not None:
        size = clip_size(clip)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except FileNotFoundError:
        raise InputError(f"{path}: no such gaze table") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read the gaze table ({exc})") from None
    if not rows:
        raise InputError(f"{path}: empty gaze table")
    header = rows[0]
    idx = {c: _column(header, c, path) for c in COLUMNS}
    lowered = [h.strip().lower() for h in header]
    i_in = lowered.index("in_frame") if "in_frame" in lowered else None
    n = len(rows) - 1
    frame = np.empty(n, dtype=np.float64)
    x = np.empty(n, dtype=np.float64)
    y = np.empty(n, dtype=np.float64)
    inside = np.ones(n, dtype=bool)
    rec = []
    for i, r in enumerate(rows[1:]):
        line = i + 2
        try:
            cells = {c: r[j] for c, j in idx.items()}
            if i_in is not None:
                inside[i] = float(r[i_in]) != 0
        except IndexError:
            raise InputError(f"{path}: line {line}: {len(r)} columns, header has "
                             f"{len(header)}") from None
        except ValueError:
            raise InputError(f"{path}: line {line}: in_frame is not a number "
                             f"({r[i_in]!r})") from None
        for c, arr in (("frame", frame), ("x", x), ("y", y)):
            try:
                arr[i] = float(cells[c])
            except ValueError:
                raise InputError(f"{path}: line {line}: {header[idx[c]].strip()} is not a "
                                 f"number ({cells[c]!r})") from None
        rec.append(cells["recording"].strip())
    bad = ~np.isfinite(frame) | (frame < 0) | (frame != np.floor(frame))
    if bad.any():
        line = int(np.argmax(bad)) + 2
        raise InputError(f"{path}: line {line}: frame index must be a whole number >= 0 "
                         f"(got {frame[bad][0]:g})")
    keep = inside & np.isfinite(x) & np.isfinite(y)
    if size is not None:
        w, h = size
        keep &= (x >= 0) & (x < w) & (y >= 0) & (y < h)
    if not keep.any():
        raise InputError(f"{path}: no gaze sample inside the frame")
    names, rec_code = np.unique(np.asarray(rec, dtype=object).astype(str), return_inverse=True)
    f = frame[keep].astype(np.int64)
    r_ = rec_code[keep].astype(np.int64)
    # One unit per (frame, recording): group on a combined key, average x and y.
    key = f * len(names) + r_
    units, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    xy = np.column_stack([np.bincount(inverse, x[keep]), np.bincount(inverse, y[keep])])
    xy /= counts[:, None]
    width, height = (int(size[0]), int(size[1])) if size is not None else (None, None)
    return GazeVideo(
        name=name or path.parent.name or path.stem,
        table=path,
        clip=clip,
        width=width,
        height=height,
        frames=units // len(names),
        recordings=units % len(names),
        xy=xy,
        recording_names=tuple(str(s) for s in names),
        samples=int(keep.sum()),
    )


def find_clip(folder: str | Path) -> Path | None:
    """The ``clip.*`` video of a gaze-video folder, or None."""
    folder = Path(folder)
    for suffix in VIDEO_SUFFIXES:
        p = folder / f"{CLIP_STEM}{suffix}"
        if p.is_file():
            return p
    return None
