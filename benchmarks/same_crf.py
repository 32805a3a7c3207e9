"""The default against plain libx264 at the SAME CRF and preset, on every clip of a folder.

What a new user sees: ``salcodec encode clip out`` next to plain libx264 with
the same CRF. Reported per clip: bytes of the coded pictures (ratio to
plain), unweighted PSNR and SSIM deltas (luma, against the decoded source),
and the realised QP inside and outside the salient fifth of each frame, for
salcodec and for plain x264 in the same blocks.

    python -m benchmarks.same_crf ../shared/data/video --crf 23 --preset medium
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from salcodec.bitstream import video_payload_bytes

VIDEO_EXT = {".mp4", ".mkv", ".avi", ".mov", ".webm"}


def clips(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXT)


def run(clip: Path, crf: float, preset: str, work: Path) -> dict:
    import salcodec
    from salcodec.qpreport import realised_in_map_blocks
    from salcodec.quality import measure

    out = {}
    sidecar = work / "default.map.jsonl"  # the default's salient blocks, for plain's QP too
    for name, saliency in (("default", True), ("plain", False)):
        dst = work / f"{name}.mkv"
        r = salcodec.encode(clip, dst, overwrite=True, progress=False, crf=crf, preset=preset,
                            saliency=saliency, report_qp=saliency,
                            export_map=sidecar if saliency else None)
        q = measure(clip, dst, ["psnr", "ssim"])
        out[name] = {"bytes": video_payload_bytes(dst), "frames": r.frames_out,
                     "psnr": q.summary["psnr"]["mean"], "ssim": q.summary["ssim"]["mean"],
                     "qp": r.qp if saliency else realised_in_map_blocks(dst, sidecar)}
    p, d = out["plain"], out["default"]
    return {**out, "bytes_ratio": d["bytes"] / p["bytes"], "psnr_delta": d["psnr"] - p["psnr"],
            "ssim_delta": d["ssim"] - p["ssim"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a clip or a folder of clips (searched recursively)")
    ap.add_argument("--crf", type=float, default=23)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    results = {}
    print("| clip | frames | bytes vs plain | PSNR delta dB | SSIM delta | realised QP salient "
          "fifth / elsewhere | plain x264's, same blocks |")
    print("|---|---:|---:|---:|---:|---|---|")
    for clip in clips(args.data):
        with tempfile.TemporaryDirectory(prefix="salcodec-samecrf-") as tmp:
            r = results[str(clip)] = run(clip, args.crf, args.preset, Path(tmp))
        qp, plain = r["default"]["qp"], r["plain"]["qp"]
        print(f"| {clip.relative_to(args.data) if args.data.is_dir() else clip.name} "
              f"| {r['default']['frames']} | {100 * (r['bytes_ratio'] - 1):+.1f}% "
              f"| {r['psnr_delta']:+.2f} | {r['ssim_delta']:+.4f} "
              f"| {qp['inside']:.1f} / {qp['outside']:.1f} "
              f"| {plain['inside']:.1f} / {plain['outside']:.1f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"crf": args.crf, "preset": args.preset,
                                         "clips": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
