"""The report step of ``compare --html`` alone, on encodes kept by an earlier run.

Usage (from a tree's root; a file path, so an older tree can be timed with
this script through ``PYTHONPATH``)::

    python -m salcodec compare CLIP --crf 23,28 --html --keep --out KEEP ...
    PYTHONPATH=. python benchmarks/report_step.py KEEP OUT

Prints one JSON line: CPU seconds of the frame pass (``pick_frames``) and of
writing the page and figures (``write_report``), their sum, and the page's
bytes. The per-frame quality the page plots is measured once and cached in
``KEEP/series.json`` (not timed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(keep: Path, out: Path) -> dict:
    from salcodec.report import matched_points, pick_frames, write_report
    from salcodec.settings import EncodeSettings

    report = json.loads((keep / "report.json").read_text())
    report.pop("html", None)
    i, j = matched_points(report)
    p, q = report["arms"][0]["points"][i], report["arms"][1]["points"][j]
    plain, salient = keep / f"arm0_crf{p['crf']:g}.mp4", keep / f"arm1_crf{q['crf']:g}.mp4"
    maps = keep / f"arm1_crf{q['crf']:g}.map.jsonl"
    cache = keep / "series.json"
    if not cache.exists():
        from salcodec.quality import measure

        spec = report["evaluation_weights"]["spec"]
        series = []
        for path in (plain, salient):
            m = measure(report["input"], path, report["metrics"], spec)
            series.append({k: m.values(k).tolist() for k in m.metrics})
        cache.write_text(json.dumps(series))
    series = json.loads(cache.read_text())
    out.mkdir(parents=True, exist_ok=True)
    cpu = time.process_time()
    pick = pick_frames(report["input"], plain, salient,
                       EncodeSettings(**report["arms"][1]["settings"]),
                       (report["arms"][0]["name"], report["arms"][1]["name"]), maps=maps)
    picked = time.process_time()
    info = write_report(report, out, pick, series, {"text": "matched pair", **pick.summary()})
    done = time.process_time()
    return {"pick_cpu_s": round(picked - cpu, 3), "write_cpu_s": round(done - picked, 3),
            "step_cpu_s": round(done - cpu, 3), "html_bytes": info["bytes"],
            "frames": [f.index for f in pick.frames]}


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
