"""One plot panel on a :class:`~salcodec.report.canvas.Canvas`: scales, ticks, lines, legend.

Tick values are chosen so that their labels never run into each other:
plain numbers (``1,500``, not ``1.5x10^3``), few of them, and on a log axis
the 1-2-5 series first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .canvas import CAP, Canvas, text_width

#: Line colours of the arms (matplotlib's "tab10" order: blue, orange, green, ...).
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
GRID = "#e3e3e3"
FRAME = "#555555"
TICK_SIZE = 10.0


def log_ticks(lo: float, hi: float) -> list[float]:
    """Few, readable tick values for a log axis spanning ``[lo, hi]`` (lo > 0).

    Prefers the 1-2-5 series; adds 3, 4, 6, 8 ... only when fewer than three
    of those fall in range, and never more than seven ticks, so the labels
    (plain numbers, no ``2x10^2``) do not run into each other.
    """
    if not (0 < lo <= hi and math.isfinite(hi)):
        raise ValueError(f"need 0 < lo <= hi, got {lo}, {hi}")
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    for mantissas in ((1, 2, 5), (1, 2, 3, 5, 7), (1, 1.5, 2, 3, 4, 5, 6, 8)):
        ticks = sorted(m * 10.0 ** d for d in decades for m in mantissas)
        ticks = [t for t in ticks if lo <= t <= hi]
        if len(ticks) >= 3:
            break
    while len(ticks) > 7:
        ticks = ticks[::2]
    if len(ticks) < 2:  # a very narrow span: its ends, rounded to 2 significant digits
        ticks = sorted({float(f"{lo:.2g}"), float(f"{hi:.2g}")})
    return ticks


def linear_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) inside ``[lo, hi]``."""
    span = hi - lo
    if not span > 0:
        return [lo]
    for mult in (1, 2, 2.5, 5, 10):
        step = mult * 10.0 ** math.floor(math.log10(span / most))
        first = math.ceil(lo / step - 1e-9)
        count = math.floor(hi / step + 1e-9) - first + 1
        if count <= most:
            break
    return [round((first + k) * step, 12) for k in range(count)]


def tick_label(v: float, step: float | None = None) -> str:
    """A plain tick label: thousands separated; with ``step``, as many decimals as it has."""
    if step is not None:
        digits = 0
        while digits < 6 and abs(step * 10 ** digits - round(step * 10 ** digits)) > 1e-6:
            digits += 1
        return f"{v:,.{digits}f}"
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:g}"


class Axes:
    """A panel at (x, y, w, h) px of a canvas, mapping data to pixels.

    Parameters
    ----------
    canvas : Canvas
    box : (x, y, w, h)
        The plotting area in px (ticks and labels go outside it).
    xlim, ylim : (lo, hi)
        Data range of each axis.
    xlog, ylog : bool
        Logarithmic axis (its limits must be > 0).
    """

    def __init__(self, canvas: Canvas, box: tuple[float, float, float, float],
                 xlim: tuple[float, float], ylim: tuple[float, float],
                 xlog: bool = False, ylog: bool = False) -> None:
        self.c = canvas
        self.x, self.y, self.w, self.h = box
        self.xlog, self.ylog = xlog, ylog
        self._x = self._scale(xlim, xlog)
        self._y = self._scale(ylim, ylog)

    @staticmethod
    def _scale(lim, log):
        lo, hi = (math.log10(v) for v in lim) if log else lim
        return lo, (hi - lo) or 1.0

    def px(self, v) -> np.ndarray:
        v = np.asarray(v, np.float64)
        lo, span = self._x
        return self.x + ((np.log10(v) if self.xlog else v) - lo) / span * self.w

    def py(self, v) -> np.ndarray:
        v = np.asarray(v, np.float64)
        if self.ylog:
            v = np.log10(np.maximum(v, 1e-12))
        lo, span = self._y
        return self.y + self.h - (v - lo) / span * self.h

    def frame(self, xticks: Sequence[float], yticks: Sequence[float], xlabels=None,
              ylabels=None, grid: bool = True, xlabel_ticks: bool = True) -> None:
        """Grid, box, ticks and their labels (``xlabel_ticks`` False: x labels left out)."""
        c, bottom = self.c, self.y + self.h
        xs, ys = self.px(xticks), self.py(yticks)
        if grid:
            for x in xs:
                c.line([x, x], [self.y, bottom], GRID)
            for y in ys:
                c.line([self.x, self.x + self.w], [y, y], GRID)
        c.rect(self.x, self.y, self.w, self.h, stroke=FRAME, width=1.0)
        xlabels = xlabels or [tick_label(v) for v in xticks]
        ylabels = ylabels or [tick_label(v) for v in yticks]
        for x, text in zip(xs, xlabels, strict=True):
            c.line([x, x], [bottom, bottom + 4], FRAME)
            if xlabel_ticks:
                c.text(x, bottom + 6 + TICK_SIZE * 0.9, text, TICK_SIZE, anchor="middle")
        for y, text in zip(ys, ylabels, strict=True):
            c.line([self.x - 4, self.x], [y, y], FRAME)
            c.text(self.x - 7, y, text, TICK_SIZE, anchor="end", middle=True)

    def labels(self, xlabel: str | None, ylabel: str | None, ylabel_offset: float) -> None:
        """Axis titles: below the x tick labels, left of the y tick labels."""
        if xlabel:
            self.c.text(self.x + self.w / 2, self.y + self.h + 36, xlabel, 11, anchor="middle")
        if ylabel:
            self.c.text(self.x - ylabel_offset, self.y + self.h / 2, ylabel, 11,
                        anchor="middle", vertical=True)

    def plot(self, xs, ys, colour: str, width: float = 1.5, marker: float = 0.0) -> None:
        """A line through the points; a non-finite value (a frame without a score) is a gap."""
        xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
        ok = np.isfinite(xs) & np.isfinite(ys)
        # Runs of consecutive finite points, each drawn as its own line.
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            if stop - start == 1 and not marker:  # a lone scored frame: a dot, not nothing
                self.c.dots(self.px(xs[start:stop]), self.py(ys[start:stop]), colour, width)
            self.c.line(self.px(xs[start:stop]), self.py(ys[start:stop]), colour, width)
        if marker and ok.any():
            self.c.dots(self.px(xs[ok]), self.py(ys[ok]), colour, marker)

    def vline(self, x: float, colour: str, dash: float = 0.0, width: float = 1.0) -> None:
        px = float(self.px(x))
        self.c.line([px, px], [self.y, self.y + self.h], colour, width, dash)

    def box_text(self, lines: list[str], corner: str, size: float = 9.5) -> None:
        """Lines of text in a white box inside the panel (corner: 'bottom right', 'top left')."""
        pad, step = 5.0, size * 1.35
        w = max(text_width(t, size) for t in lines) + 2 * pad
        h = step * len(lines) + pad
        x = self.x + self.w - w - 6 if "right" in corner else self.x + 6
        y = self.y + self.h - h - 6 if "bottom" in corner else self.y + 6
        self.c.rect(x, y, w, h, fill="#ffffff", stroke="#b3b3b3")
        for k, t in enumerate(lines):
            self.c.text(x + pad, y + pad + step * k + CAP * size, t, size)

    def legend(self, names: Sequence[str], colours: Sequence[str], corner: str,
               marker: bool = False, size: float = 9.5) -> None:
        """A legend box: a short line (and marker) of each colour, then its name."""
        pad, step, sample = 5.0, size * 1.5, 22.0
        w = max(text_width(t, size) for t in names) + sample + 3 * pad
        h = step * len(names) + pad
        x = self.x + self.w - w - 6 if "right" in corner else self.x + 6
        y = self.y + self.h - h - 6 if "bottom" in corner else self.y + 6
        self.c.rect(x, y, w, h, fill="#ffffff", stroke="#b3b3b3")
        for k, (name, colour) in enumerate(zip(names, colours, strict=False)):
            mid = y + pad + step * k + step / 2 - 1
            self.c.line([x + pad, x + pad + sample], [mid, mid], colour, 1.8)
            if marker:
                self.c.dots([x + pad + sample / 2], [mid], colour, 3.0)
            self.c.text(x + 2 * pad + sample, mid, name, size, middle=True)

