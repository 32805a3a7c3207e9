"""Fuzz the CLI with mutated real containers: no traceback, no hang, no partial output.

Issue 10. A seed corpus of small real files (mp4, mkv, avi, webm, mpegts; H.264,
MPEG-4, VP9 and FFV1 video, AAC audio, an odd frame size, full-range YUV) is
made from the fixture clips (``salcodec/data/carphone.mp4``,
``tests/data/*``). Each case takes one seed, applies one to three mutations
(bit flips in the header, bytes changed inside packet payloads, "interesting"
integers over header fields, truncation, chunks deleted, duplicated or
inserted) chosen by a generator seeded with ``(seed, case)``, so every case is
reproducible, and runs three verbs on the mutated file as separate
``python -m salcodec`` processes with a time limit:

* ``encode MUTATED OUT --json`` into an empty folder: success leaves exactly
  OUT, which must decode completely to the frame count reported; failure leaves
  the folder empty;
* ``quality SEED MUTATED``: success prints JSON;
* ``inspect MUTATED --json``: success prints JSON.

Every run must exit 0 or 1, print no Python traceback, end a failure with one
``salcodec: error:`` line, and finish within the time limit. A violation is
a finding: the mutated file and a JSON description go to ``OUT/findings``.

Run (from the repository root; one process, so the 2 cores stay usable)::

    .venv/bin/python -m benchmarks.fuzz --minutes 10            # timed run
    .venv/bin/python -m benchmarks.fuzz --cases 20 --seed 7      # fixed slice
    .venv/bin/python -m benchmarks.fuzz --replay 7:123           # one case again

The summary (inputs tried, verb runs, findings by kind) is printed and written
to ``OUT/summary.json`` (default OUT: a new temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
CARPHONE = REPO / "salcodec" / "data" / "carphone.mp4"
FIXTURES = REPO / "tests" / "data"

#: Seconds one verb may take on a mutated few-kilobyte file before it counts as a hang
#: (the seeds take 2-8 s each on a busy 2-core machine, mostly start-up).
DEFAULT_TIMEOUT = 90.0


# --------------------------------------------------------------------------- seed corpus

def _encode_seed(path: Path, src: Path, *, fmt: str | None = None, codec: str = "libx264",
                 size: tuple[int, int] = (64, 48), pix_fmt: str = "yuv420p", frames: int = 10,
                 rate: int = 25, options: dict | None = None, audio_seconds: float = 0.0) -> Path:
    """Re-encode the first ``frames`` frames of ``src`` small; copy its audio for a while."""
    with av.open(str(src)) as inp, av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], pix_fmt
        vs.time_base = vs.codec_context.time_base = Fraction(1, rate)
        vs.options = options or {}
        a_in = inp.streams.audio[0] if audio_seconds and inp.streams.audio else None
        a_out = out.add_stream_from_template(a_in) if a_in is not None else None
        n = 0
        for packet in inp.demux(*(s for s in (inp.streams.video[0], a_in) if s is not None)):
            if packet.stream is a_in:
                if packet.dts is not None and packet.pts is not None and \
                        packet.pts * a_in.time_base < audio_seconds:
                    packet.stream = a_out
                    out.mux(packet)
                continue
            for frame in packet.decode():
                if n < frames:
                    g = frame.reformat(width=size[0], height=size[1], format=pix_fmt)
                    g.pts, g.time_base = n, Fraction(1, rate)
                    out.mux(vs.encode(g))
                    n += 1
            if n >= frames and a_in is None:
                break
        out.mux(vs.encode(None))
    return path


#: name -> how to make it from the fixtures (a few kilobytes each).
SEEDS: dict[str, Callable[[Path], Path]] = {
    "h264.mp4": lambda p: _encode_seed(p, CARPHONE),
    "h264_aac.mkv": lambda p: _encode_seed(p, FIXTURES / "bbb_audio.mp4", size=(64, 36),
                                           audio_seconds=0.4),
    "h264_aac.ts": lambda p: _encode_seed(p, FIXTURES / "bbb_audio.mp4", size=(64, 36),
                                          audio_seconds=0.4),
    "mpeg4.avi": lambda p: _encode_seed(p, CARPHONE, codec="mpeg4"),
    "vp9.webm": lambda p: _encode_seed(p, CARPHONE, codec="libvpx-vp9",
                                       options={"deadline": "realtime", "cpu-used": "8"}),
    "ffv1_odd.mkv": lambda p: _encode_seed(p, FIXTURES / "asl_again.mkv", codec="ffv1",
                                           size=(33, 25), frames=6),
    "h264_fullrange.mp4": lambda p: _encode_seed(p, FIXTURES / "asl_again.mkv",
                                                 pix_fmt="yuvj420p", frames=8),
}


def build_corpus(folder: Path) -> list[Path]:
    """Make the seed files in ``folder`` (kept if already there); return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in SEEDS.items():
        path = folder / name
        if not path.exists():
            tmp = folder / f"tmp-{name}"
            make(tmp)
            tmp.replace(path)
        paths.append(path)
    return paths


@dataclass
class Layout:
    """Where a file's packet payloads lie, and the container structure between them."""

    size: int
    packets: list[tuple[int, int]]  # (offset, size) of each packet's payload
    headers: list[tuple[int, int]]  # (start, end) of the bytes outside payloads

    def header_offset(self, rng: random.Random, limit: int) -> int:
        """A random offset in the container structure (headers, index, framing)."""
        spans = [(a, min(b, limit)) for a, b in self.headers if a < min(b, limit)]
        if not spans:
            return rng.randrange(max(1, limit))
        a, b = rng.choices(spans, [b - a for a, b in spans])[0]
        return rng.randrange(a, b)


def layout(path: Path) -> Layout:
    """Packet positions from demuxing ``path``; headers are the bytes between them."""
    packets = []
    with av.open(str(path)) as c:
        for p in c.demux():
            if p.size and p.pos is not None and p.pos >= 0:
                packets.append((int(p.pos), int(p.size)))
    size = path.stat().st_size
    headers, at = [], 0
    for pos, n in sorted(packets):
        if pos > at:
            headers.append((at, pos))
        at = max(at, pos + n)
    if at < size:
        headers.append((at, size))
    return Layout(size, packets, headers)


# --------------------------------------------------------------------------- mutations

_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                0xFFFFFFFF, 0xFFFFFFFE, 16, 64, 4096]


def _payload_span(lay: Layout, rng: random.Random) -> tuple[int, int]:
    if not lay.packets:
        return 0, lay.size
    pos, size = rng.choice(lay.packets)
    return pos, min(pos + size, lay.size)


def _flip_header_bits(data: bytearray, lay: Layout, rng: random.Random) -> str:
    spots = sorted(lay.header_offset(rng, len(data)) for _ in range(rng.randint(1, 8)))
    for i in spots:
        data[i] ^= 1 << rng.randrange(8)
    return f"flip header bits at {spots}"


def _interesting_header_int(data: bytearray, lay: Layout, rng: random.Random) -> str:
    width = rng.choice([1, 2, 4])
    at = lay.header_offset(rng, len(data) - width)
    value = rng.choice(_INTERESTING) & ((1 << (8 * width)) - 1)
    data[at:at + width] = value.to_bytes(width, rng.choice(["big", "little"]))
    return f"header int{8 * width} at {at} = {value:#x}"


def _payload_bytes(data: bytearray, lay: Layout, rng: random.Random) -> str:
    lo, hi = _payload_span(lay, rng)
    hi = min(hi, len(data))
    if hi <= lo:
        return "no payload"
    spots = sorted(rng.randrange(lo, hi) for _ in range(rng.randint(1, 16)))
    for i in spots:
        data[i] = rng.randrange(256)
    return f"payload bytes at {spots}"


def _zero_payload(data: bytearray, lay: Layout, rng: random.Random) -> str:
    lo, hi = _payload_span(lay, rng)
    hi = min(hi, len(data))
    data[lo:hi] = bytes(max(0, hi - lo))
    return f"zero payload {lo}..{hi}"


def _truncate(data: bytearray, lay: Layout, rng: random.Random) -> str:
    at = rng.randrange(1, max(2, len(data)))
    del data[at:]
    return f"truncate at {at}"


def _delete_chunk(data: bytearray, lay: Layout, rng: random.Random) -> str:
    at = rng.randrange(len(data))
    n = rng.randint(1, 256)
    del data[at:at + n]
    return f"delete {n} at {at}"


def _duplicate_chunk(data: bytearray, lay: Layout, rng: random.Random) -> str:
    at = rng.randrange(len(data))
    n = rng.randint(1, 512)
    to = rng.randrange(len(data))
    data[to:to] = data[at:at + n]
    return f"copy {n} from {at} to {to}"


def _insert_random(data: bytearray, lay: Layout, rng: random.Random) -> str:
    to = rng.randrange(len(data))
    n = rng.randint(1, 64)
    data[to:to] = bytes(rng.randrange(256) for _ in range(n))
    return f"insert {n} random at {to}"


#: (weight, mutation): headers and payloads most of the time.
MUTATIONS = [
    (4, _flip_header_bits), (3, _interesting_header_int), (4, _payload_bytes),
    (1, _zero_payload), (1, _truncate), (1, _delete_chunk), (1, _duplicate_chunk),
    (1, _insert_random),
]


def mutate(data: bytes, lay: Layout, rng: random.Random) -> tuple[bytes, list[str]]:
    """Apply one to three weighted random mutations; return the bytes and what was done."""
    out = bytearray(data)
    weights = [w for w, _ in MUTATIONS]
    done = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        if not out:
            break
        fn = rng.choices([m for _, m in MUTATIONS], weights)[0]
        done.append(fn(out, lay, rng))
    return bytes(out), done


def make_case(seeds: list[Path], layouts: dict[Path, Layout], seed: int,
              index: int) -> tuple[Path, bytes, list[str]]:
    """Case ``index`` of run ``seed``: the same seed file and mutations every time."""
    rng = random.Random(f"salcodec-fuzz:{seed}:{index}")
    src = seeds[index % len(seeds)]
    data, done = mutate(src.read_bytes(), layouts[src], rng)
    return src, data, done


# --------------------------------------------------------------------------- running verbs

@dataclass
class Run:
    verb: str
    argv: list[str]
    rc: int | None
    seconds: float
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.rc is None


def run_cli(args: list[str], cwd: Path, timeout: float) -> Run:
    """``python -m salcodec ARGS`` in its own process group, killed whole after ``timeout``."""
    argv = [sys.executable, "-m", "salcodec", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        rc = None
    return Run(args[0], args, rc, round(time.monotonic() - started, 2),
               out.decode(errors="replace"), err.decode(errors="replace"))


def problems(run: Run) -> list[str]:
    """What is wrong with one verb's run, whatever the input (empty: fine)."""
    if run.timed_out:
        return [f"hang: no exit within {run.seconds:.0f} s"]
    found = []
    if run.rc not in (0, 1):
        found.append(f"exit status {run.rc}")
    if "Traceback (most recent call last)" in run.stderr:
        found.append("traceback")
    errors = [ln for ln in run.stderr.splitlines() if ln.startswith("salcodec: error: ")]
    if run.rc == 1 and len(errors) != 1:
        found.append(f"{len(errors)} 'salcodec: error:' lines on failure")
    if run.rc == 0 and run.verb in ("quality", "inspect") or (run.rc == 0 and "--json" in run.argv):
        try:
            json.loads(run.stdout)
        except ValueError:
            found.append("success without valid JSON on stdout")
    return found


def decoded_frames(path: Path) -> int:
    """Frames of the first video stream, decoded to the end (raises on a broken file).

    Opened as salcodec reads its own outputs (:func:`salcodec.io.decode.open_input`:
    a tiny MPEG-TS is read as mpegts when FFmpeg's probe gives up on it).
    """
    from salcodec.io.decode import open_input

    with open_input(path) as c:
        return sum(1 for _ in c.decode(video=0))


def check_encode(run: Run, folder: Path, out_name: str) -> list[str]:
    """The output folder after ``encode``: empty on failure, exactly a whole output on success."""
    left = sorted(p.name for p in folder.iterdir())
    if run.rc != 0:
        return [f"files left after failure: {left}"] if left else []
    if left != [out_name]:
        return [f"output folder holds {left}, expected [{out_name!r}]"]
    try:
        frames = decoded_frames(folder / out_name)
        reported = json.loads(run.stdout)["frames_out"]
    except (av.FFmpegError, ValueError, KeyError) as exc:
        return [f"output does not decode or report: {exc}"]
    return [] if frames == reported else [f"output decodes {frames} frames, reported {reported}"]


@dataclass
class CaseResult:
    case: str
    seed_file: str
    mutations: list[str]
    runs: list[dict] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


_OUTPUTS = ["out.mkv", "out.mp4", "out.ts"]


def run_case(src: Path, data: bytes, mutations: list[str], case: str, work: Path,
             timeout: float) -> CaseResult:
    """Write the mutated file, run encode, quality and inspect on it, judge each run."""
    result = CaseResult(case, src.name, mutations)
    shutil.rmtree(work, ignore_errors=True)
    inputs, outdir = work / "in", work / "out"
    inputs.mkdir(parents=True)
    outdir.mkdir()
    mutated = inputs / f"mutated{src.suffix}"
    mutated.write_bytes(data)
    out_name = _OUTPUTS[sum(map(ord, case)) % len(_OUTPUTS)]
    runs = [
        run_cli(["encode", str(mutated), str(outdir / out_name), "--json", "--no-progress"],
                work, timeout),
        run_cli(["quality", str(src), str(mutated), "--metrics", "psnr,ssim"], work, timeout),
        run_cli(["inspect", str(mutated), "--json"], work, timeout),
    ]
    for run in runs:
        found = problems(run)
        if run.verb == "encode" and not run.timed_out:
            found += check_encode(run, outdir, out_name)
        result.findings += [f"{run.verb}: {f}" for f in found]
        result.runs.append({"verb": run.verb, "rc": run.rc, "seconds": run.seconds,
                            "stderr_tail": run.stderr[-600:] if found else
                            (run.stderr.strip().splitlines() or [""])[-1][:200]})
    return result


# --------------------------------------------------------------------------- driver

def fuzz(*, minutes: float | None = None, cases: int | None = None, seed: int = 0,
         out: Path | None = None, timeout: float = DEFAULT_TIMEOUT, corpus: Path | None = None,
         log: Callable[[str], None] = print, start: int = 0) -> dict:
    """Run cases ``start, start+1, ...`` until ``minutes`` pass or ``cases`` are done.

    Returns the summary (also written to ``out/summary.json``); findings are
    saved as ``out/findings/<case>.<ext>`` with ``<case>.json`` beside them.
    """
    if minutes is None and cases is None:
        raise ValueError("give minutes or cases")
    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="salcodec-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    seeds = build_corpus(corpus or out / "corpus")
    layouts = {p: layout(p) for p in seeds}
    deadline = time.monotonic() + 60 * minutes if minutes is not None else None
    started = time.monotonic()
    tried = verb_runs = 0
    findings: list[dict] = []
    outcomes: dict[str, int] = {}
    index = start
    while (cases is None or tried < cases) and (deadline is None or time.monotonic() < deadline):
        src, data, mutations = make_case(seeds, layouts, seed, index)
        name = f"{seed}:{index}"
        r = run_case(src, data, mutations, name, out / "work", timeout)
        tried += 1
        verb_runs += len(r.runs)
        for run in r.runs:
            key = f"{run['verb']} rc={run['rc']}"
            outcomes[key] = outcomes.get(key, 0) + 1
        if r.findings:
            keep = out / "findings"
            keep.mkdir(exist_ok=True)
            stem = f"case-{seed}-{index}"
            (keep / f"{stem}{src.suffix}").write_bytes(data)
            (keep / f"{stem}.json").write_text(json.dumps(asdict(r), indent=2))
            findings.append({"case": name, "seed_file": src.name, "findings": r.findings})
        log(f"{name} {src.name} {'; '.join(mutations)} -> "
            f"{' '.join(str(x['rc']) for x in r.runs)}"
            f"{'  FINDING: ' + ' | '.join(r.findings) if r.findings else ''}")
        index += 1
    shutil.rmtree(out / "work", ignore_errors=True)
    summary = {
        "command": "python -m benchmarks.fuzz " + " ".join(sys.argv[1:]),
        "seed": seed, "first_case": start, "inputs_tried": tried, "verb_runs": verb_runs,
        "seconds": round(time.monotonic() - started, 1), "timeout_s": timeout,
        "seeds": [p.name for p in seeds], "outcomes": dict(sorted(outcomes.items())),
        "cases_with_findings": len(findings), "findings": findings, "out": str(out),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, help="run for this long")
    ap.add_argument("--cases", type=int, help="run this many cases")
    ap.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    ap.add_argument("--start", type=int, default=0, help="first case index (default 0)")
    ap.add_argument("--replay", metavar="SEED:CASE", help="run one case again")
    ap.add_argument("--out", type=Path, help="findings and summary.json (default: a temp folder)")
    ap.add_argument("--corpus", type=Path, help="seed corpus folder (made if missing)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help=f"seconds per verb before it counts as a hang ({DEFAULT_TIMEOUT:.0f})")
    a = ap.parse_args(argv)
    if a.replay:
        seed, _, case = a.replay.partition(":")
        a.seed, a.start, a.cases, a.minutes = int(seed), int(case), 1, None
    if a.minutes is None and a.cases is None:
        ap.error("give --minutes, --cases or --replay")
    s = fuzz(minutes=a.minutes, cases=a.cases, seed=a.seed, out=a.out, timeout=a.timeout,
             corpus=a.corpus, start=a.start, log=lambda m: print(m, flush=True))
    print(f"{s['inputs_tried']} inputs, {s['verb_runs']} verb runs in {s['seconds']} s; "
          f"{s['cases_with_findings']} with findings; summary: {s['out']}/summary.json")
    return 1 if s["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
