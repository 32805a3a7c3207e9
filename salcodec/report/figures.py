"""The comparison's figures: RD curves, per-frame quality and bits, QP maps.

Each figure is laid out once on a :class:`~salcodec.report.canvas.Canvas`:
the page inlines it as SVG, and the ``plot_*`` functions write it as PNG for
people who script (``rd.png``, ``perframe.png``, ``inspect --png``), with no
plotting library to import.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..io.safeio import write_atomic
from .axes import COLOURS, Axes, linear_ticks, log_ticks, tick_label
from .canvas import Canvas, text_width

#: Weighted metrics (scored with an importance map) and their unweighted twins.
TWINS = {"wpsnr": "psnr", "wssim": "ssim", "wxpsnr": "xpsnr"}
UNITS = {"psnr": "dB", "wpsnr": "dB", "xpsnr": "dB", "wxpsnr": "dB"}
#: The log-axis ticks of the RD curves' byte axis (kept under its first name).
rd_ticks = log_ticks


def _write(canvas: Canvas, path: str | Path | None) -> bytes:
    data = canvas.png()
    if path is not None:
        write_atomic(path, data)
    return data


def fit(text: str, size: float, width: float) -> str:
    """``text`` shortened in the middle (``...``) until it fits ``width`` px."""
    if text_width(text, size) <= width:
        return text
    keep = len(text)
    while keep > 8:
        keep -= 2
        short = text[:keep // 2] + "..." + text[len(text) - keep // 2:]
        if text_width(short, size) <= width:
            return short
    return text[:8] + "..."


def _padded(lo: float, hi: float, frac: float = 0.06) -> tuple[float, float]:
    if hi <= lo:
        return lo - 1.0, hi + 1.0
    pad = (hi - lo) * frac
    return lo - pad, hi + pad


def _ylabels(ticks: list[float]) -> list[str]:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else None
    return [tick_label(v, step) for v in ticks]


def rd_figure(report: dict) -> Canvas:
    """RD curves, one panel per metric (bytes on a log axis), BD-rates printed on each."""
    metrics = report["metrics"]
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    left, pw, right, top, ph, bottom = 66, 300, 18, 40, 210, 52
    cell_w, cell_h = left + pw + right, top + ph + bottom
    plain = report["arms"][0]["name"] if report.get("arms") else "x264"
    head = [f"{Path(report['input']).name}: RD curves vs plain {plain}",
            "BD-rate pchip; negative = fewer bytes at equal quality"]
    if text_width(" (".join(head) + ")", 11) < cols * cell_w - 20:
        head = [" (".join(head) + ")"]
    title_h = 10 + 16 * len(head)
    c = Canvas(cols * cell_w, title_h + rows * cell_h)
    for k, line in enumerate(head):
        c.text(c.width / 2, 20 + 16 * k, fit(line, 11, c.width - 20), 11, anchor="middle")
    kb = [p["bytes"] / 1000 for a in report["arms"] for p in a["points"]]
    lo, hi = min(kb) / 1.08, max(kb) * 1.08
    xticks = rd_ticks(lo, hi)
    weights = report["evaluation_weights"]
    for n, m in enumerate(metrics):
        x0 = (n % cols) * cell_w
        y0 = title_h + (n // cols) * cell_h
        values = [p["metrics"][m] for a in report["arms"] for p in a["points"]]
        finite = [v for v in values if v is not None and math.isfinite(v)]
        ylim = _padded(min(finite), max(finite)) if finite else (0.0, 1.0)
        yticks = linear_ticks(*ylim, most=6)
        ax = Axes(c, (x0 + left, y0 + top, pw, ph), (lo, hi), ylim, xlog=True)
        ax.frame(xticks, yticks, ylabels=_ylabels(yticks))
        ylabel = f"{m} ({UNITS[m]})" if m in UNITS else m
        width = max(text_width(t, 10) for t in _ylabels(yticks))
        ax.labels("coded video, kB (log scale)", ylabel, ylabel_offset=width + 22)
        title = m
        if m in TWINS:
            title += f" (weighted by {weights['spec']})" + (" CIRCULAR" if weights["circular"]
                                                            else "")
        c.text(x0 + left + pw / 2, y0 + top - 10, fit(title, 10.5, cell_w - 10), 10.5,
               anchor="middle", bold=True)
        for k, arm in enumerate(report["arms"]):
            pts = [p for p in arm["points"] if p["metrics"][m] is not None]
            ax.plot([p["bytes"] / 1000 for p in pts], [p["metrics"][m] for p in pts],
                    COLOURS[k % len(COLOURS)], width=1.8, marker=3.2)
        lines = []
        for arm, per in report["bd_rate"].items():
            v = per[m]["pchip"]
            lines.append(f"{arm}: BD-rate " + ("n/a" if v is None else f"{v:+.1f}%")
                         + (" (low overlap)" if per[m]["low_overlap"] else ""))
        if lines:
            ax.box_text([fit(t, 9.5, pw - 24) for t in lines], "bottom right")
        if n == 0:
            ax.legend([a["name"] for a in report["arms"]], COLOURS, "top left", marker=True)
    return c


def plot_rd(report: dict, path: str | Path | None = None) -> bytes:
    """:func:`rd_figure` as PNG bytes, written to ``path`` when one is given."""
    return _write(rd_figure(report), path)


def _envelope(y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a long series drawn in ``columns`` px: each column's minimum and maximum.

    Spikes stay visible and the drawing stays a few thousand points whatever
    the video's length; short series are returned whole.
    """
    n = len(y)
    if n <= 2 * columns:
        return np.arange(n, dtype=np.float64), y
    starts = np.linspace(0, n, columns + 1).astype(np.int64)[:-1]
    with np.errstate(invalid="ignore"):  # a column of frames without scores stays NaN: a gap
        lo, hi = np.fmin.reduceat(y, starts), np.fmax.reduceat(y, starts)
    ends = np.append(starts[1:], n)
    x = np.column_stack([starts, (starts + ends - 1) / 2]).ravel().astype(np.float64)
    return x, np.column_stack([lo, hi]).ravel()


def perframe_figure(series: dict) -> Canvas:
    """Quality and bits per frame of the two matched encodes.

    ``series`` has ``arms`` (two names), ``metrics`` {name: [values arm 0,
    values arm 1]}, ``bits`` [bits arm 0, bits arm 1], ``cuts`` (frame
    indices) and ``picked`` {frame: label}.
    """
    names = list(series["metrics"])
    left, pw, right, top, ph, gap, bottom = 76, 1010, 14, 34, 120, 14, 48
    panels = len(names) + 1
    c = Canvas(left + pw + right, top + panels * ph + (panels - 1) * gap + bottom)
    c.text(c.width / 2, 20, "per frame: quality and bits of the matched encodes (green: frames "
           "shown below; dotted: scene cuts)", 11, anchor="middle")
    n = max(len(series["bits"][0]), 1)
    xlim = (-0.5, n - 0.5)
    xticks = [t for t in linear_ticks(0, n - 1, most=10) if float(t).is_integer()] or [0]
    data = [(m, [np.asarray(series["metrics"][m][k], np.float64) for k in range(2)], False)
            for m in names]
    data.append(("kbit / frame", [np.maximum(np.asarray(series["bits"][k], np.float64) / 1000,
                                             1e-3) for k in range(2)], True))
    for i, (name, ys, log) in enumerate(data):
        y0 = top + i * (ph + gap)
        finite = np.concatenate([v[np.isfinite(v)] for v in ys])
        if log:
            ylim = (float(finite.min()) / 1.3, float(finite.max()) * 1.3) if finite.size \
                else (0.1, 10.0)
            yticks = log_ticks(*ylim)
            ylabels = [tick_label(v) for v in yticks]
        else:
            ylim = _padded(float(finite.min()), float(finite.max())) if finite.size \
                else (0.0, 1.0)
            yticks = linear_ticks(*ylim, most=4)
            ylabels = _ylabels(yticks)
        ax = Axes(c, (left, y0, pw, ph), xlim, ylim, ylog=log)
        ax.frame([float(t) for t in xticks], yticks, [f"{t:g}" for t in xticks], ylabels,
                 xlabel_ticks=i == panels - 1)
        for cut in series.get("cuts", []):
            ax.vline(cut, "#808080", dash=2.0)
        for f in series.get("picked", {}):
            ax.vline(f, "#6cbf6c", width=1.2)
        label = f"{name} ({UNITS[name]})" if name in UNITS else name
        ax.labels("frame (presentation order)" if i == panels - 1 else None, label,
                  ylabel_offset=max(text_width(t, 10) for t in ylabels) + 22)
        for k, y in enumerate(ys):
            ax.plot(*_envelope(y, int(pw)), COLOURS[k], width=1.1)
        if i == 0:
            ax.legend(series["arms"], COLOURS, "bottom right")
    return c


def plot_perframe(series: dict, path: str | Path | None = None) -> bytes:
    """:func:`perframe_figure` as PNG bytes, written to ``path`` when one is given."""
    return _write(perframe_figure(series), path)


def plot_qp(qp: np.ndarray, title: str, path: str | Path | None = None,
            qp_range: tuple[int, int] | None = None) -> bytes:
    """A per-macroblock QP map with its colour bar (``salcodec inspect --png``), as PNG."""
    from ..qpinspect import qp_heatmap

    qp = np.asarray(qp)
    lo, hi = qp_range or (int(qp.min()), max(int(qp.max()), int(qp.min()) + 1))
    mb_h, mb_w = qp.shape
    cell = max(1, min(24, round(640 / mb_w), 720 // mb_h))
    w, h = mb_w * cell, mb_h * cell
    left, top, bottom, bar_gap, bar_w = 56, 38, 48, 16, 18
    right = bar_gap + bar_w + 72
    c = Canvas(max(left + w + right, int(text_width(title, 11)) + 20), top + h + bottom)
    c.text(c.width / 2, 22, fit(title, 11, c.width - 10), 11, anchor="middle")
    # Reversed inferno, as qp_heatmap: low QP (more bits) bright.
    c.image(left, top, w, h, qp_heatmap(qp, block=1, qp_range=(lo, hi)))
    ax = Axes(c, (left, top, w, h), (-0.5, mb_w - 0.5), (mb_h - 0.5, -0.5))
    cols = [t for t in linear_ticks(0, mb_w - 1, most=8) if float(t).is_integer()]
    rows = [t for t in linear_ticks(0, mb_h - 1, most=6) if float(t).is_integer()]
    ax.frame(cols, rows, [f"{t:g}" for t in cols], [f"{t:g}" for t in rows], grid=False)
    ax.labels("macroblock column", "macroblock row",
              ylabel_offset=max(text_width(f"{t:g}", 10) for t in rows) + 22)
    # The colour bar: the very colouring of the map, QP rising upwards.
    bx = left + w + bar_gap
    ramp = np.linspace(hi, lo, h)[:, None]
    c.image(bx, top, bar_w, h, qp_heatmap(ramp, block=1, qp_range=(lo, hi)))
    bar = Axes(c, (bx, top, bar_w, h), (0.0, 1.0), (lo, hi))
    ticks = [t for t in linear_ticks(lo, hi, most=6) if float(t).is_integer()] or [lo, hi]
    c.rect(bx, top, bar_w, h, stroke="#555555")
    for t in ticks:
        y = float(bar.py(t))
        c.line([bx + bar_w, bx + bar_w + 4], [y, y], "#555555")
        c.text(bx + bar_w + 7, y, f"{t:g}", 10, middle=True)
    c.text(bx + bar_w + 7 + max(text_width(f"{t:g}", 10) for t in ticks) + 12, top + h / 2,
           "QP (low = more bits)", 11, anchor="middle", vertical=True)
    return _write(c, path)
