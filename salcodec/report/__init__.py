"""The comparison people can look at: figures, chosen frames and a self-contained HTML page.

``salcodec compare --html`` calls :func:`write_report`; the line figures are
drawn inline as SVG and also written as PNG files beside ``report.json`` for
people who script (no plotting library: :mod:`.canvas`).
"""

from .figures import perframe_figure, plot_perframe, plot_qp, plot_rd, rd_figure, rd_ticks
from .frames import FramePick, matched_points, pick_frames
from .html import render_html, write_report
from .provenance import versions

__all__ = [
    "FramePick",
    "matched_points",
    "perframe_figure",
    "pick_frames",
    "plot_perframe",
    "plot_qp",
    "plot_rd",
    "rd_figure",
    "rd_ticks",
    "render_html",
    "versions",
    "write_report",
]
