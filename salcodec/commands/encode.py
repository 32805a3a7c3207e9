"""``salcodec encode INPUT OUTPUT``: saliency-guided transcode to H.264, HEVC or VP9."""

from __future__ import annotations

import argparse
import json
import sys

from ..qpmap import DEFAULT_CLAMP, DEFAULT_STRENGTH
from ..saliency import DEFAULT_MODEL, available_models
from ..settings import BUDGET_ALIASES, BUDGETS
from .options import add_examples, add_overwrite, add_progress, show_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="transcode a video with saliency-guided QP offsets",
                       description="Transcode INPUT to H.264 (libx264), HEVC (libx265) or VP9 "
                       "(libvpx-vp9) in OUTPUT, spending bits where viewers look. Audio and "
                       "other streams are copied (or dropped with -an, -sn, -dn).")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="INPUT OUTPUT: input file (- or pipe:0 reads stdin, a FIFO is read as a "
                   "pipe) and output file (.mp4, .mov, .m4v, .mkv, .ts, .nut, or .webm for VP9; "
                   "- or pipe:1 writes stdout, needs -f); with --out-dir: any number of input "
                   "files and folders")
    p.add_argument("--out-dir", default=None, metavar="DIR",
                   help="batch: encode every INPUT (folders: their videos, recursively) into "
                   "DIR, names mirrored; existing outputs skipped unless -y; a summary table "
                   "on stderr (JSON lines on stdout with --json); exit 1 if any file failed")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="batch: files encoded at once (1)")
    p.add_argument("-f", "--format", default=None, metavar="FORMAT",
                   help="output container when the name has no extension: matroska, mp4 "
                   "(fragmented to a pipe), mov, mpegts, nut, webm (VP9 only)")
    add_encode_options(p)
    add_drop_options(p)
    p.add_argument("--map", dest="map_source", default=None, metavar="SOURCE",
                   help="drive the encoder with your own maps instead of a model: a greyscale "
                   "video or a folder of images (bright = look here; one per frame, resized to "
                   "macroblocks) or a sidecar from --export-map (offsets applied as given)")
    p.add_argument("--export-map", default=None, metavar="FILE",
                   help="write each frame's per-macroblock importance and QP offsets, with its "
                   "pts, to FILE (JSON lines, see docs/mapfile.md)")
    add_overwrite(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout "
                   "(refused when the video goes to stdout)")
    add_progress(p)
    add_distributed_options(p)
    add_examples(
        p,
        'salcodec encode in.mp4 out.mp4                       # CRF 23, budget attended',
        'salcodec encode in.mp4 out.mkv --crf 20 --preset slow -y',
        'salcodec encode in.mp4 out.mp4 --budget size --json  # size of plain x264, JSON',
        'salcodec encode videos/ --out-dir encoded/           # a batch',
        'cat in.mkv | salcodec encode - - -f matroska > out.mkv',
    )
    p.set_defaults(func=run)


def add_encode_options(p: argparse.ArgumentParser, crf: bool = True) -> None:
    """Options shared by every verb that encodes (encode, compare, crf-search)."""
    from ..codecs import codec_names

    p.add_argument("--codec", default="libx264", metavar="{" + ",".join(codec_names()) + "}",
                   help="encoder (libx264). libx265: HEVC, realised QP not readable back; "
                   "libvpx-vp9: realtime mode at speed 5..9 (the only one in which libvpx "
                   "applies ROI), whole-number --crf 0..63, at most 7 offset levels per frame. "
                   "libsvtav1 ignores ROI and is refused")
    p.add_argument("--pix-fmt", default="yuv420p", metavar="FMT",
                   help="output pixel format: yuv420p (default) or yuv420p10le (10-bit; "
                   "libx264 and libx265)")
    if crf:
        p.add_argument("--crf", type=float, default=23,
                       help="constant rate factor (23): 0..51, VP9 0..63 whole numbers")
    p.add_argument("--preset", default="medium",
                   help="encoder preset (medium); for VP9 a realtime speed 5..9 or an x264 "
                   "preset name (medium = 5, fast = 6, faster = 7, veryfast = 8, "
                   "ultrafast = 9)")
    p.add_argument("--params", "--codec-params", dest="params", default=None,
                   metavar="K=V:...", help="extra encoder parameters: x264/x265 names and "
                   "syntax, or libvpx-vp9 option names; unknown names, bad values, keys that "
                   "override salcodec's flags and settings that drop the offsets are refused")
    p.add_argument("--x264-params", default=None, metavar="K=V:...",
                   help="the x264 spelling of --params (libx264 only)")
    p.add_argument("--model", default="default",
                   choices=sorted({"default", *available_models()}),
                   help=f"saliency model (default: {DEFAULT_MODEL})")
    p.add_argument("--strength", type=float, default=DEFAULT_STRENGTH,
                   help=f"QP offset per standard deviation of saliency ({DEFAULT_STRENGTH:g})")
    p.add_argument("--clamp", type=float, default=DEFAULT_CLAMP,
                   help=f"largest QP offset either way ({DEFAULT_CLAMP:g})")
    p.add_argument("--smoothing", type=float, default=0.6,
                   help="temporal smoothing of offsets, 0..1 exclusive (0.6)")
    p.add_argument("--bias", type=float, default=0.0,
                   help="QP added to every offset, then clamped (0)")
    p.add_argument("--no-saliency", dest="saliency", action="store_false",
                   help="plain encoder with the same settings (baseline)")
    p.add_argument("--budget", default="attended", type=_budget,
                   metavar="{" + ",".join(BUDGETS) + "}",
                   help="what --crf means. attended (default): plain x264's CRF quality where "
                   "people look (anchored on the map's peak, which keeps or beats plain "
                   "x264's QP), fewer bits elsewhere, so a smaller file; size: the same size as "
                   "plain x264 at that CRF, bits moved to where people look (calibrated on "
                   "samples); zero-mean: offsets averaging zero QP per frame (size moves either "
                   "way)")


def _budget(text: str) -> str:
    name = BUDGET_ALIASES.get(text, text)
    if name not in BUDGETS:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(BUDGETS)}")
    return name


def settings_from_args(args: argparse.Namespace):
    """EncodeSettings from the options added by :func:`add_encode_options`."""
    from ..settings import EncodeSettings

    crf = args.crf if isinstance(getattr(args, "crf", None), (int, float)) else 23
    return EncodeSettings(crf=crf, preset=args.preset, x264_params=args.x264_params,
                          params=args.params, codec=args.codec, pix_fmt=args.pix_fmt,
                          saliency=args.saliency, model=args.model, strength=args.strength,
                          clamp=args.clamp, smoothing=args.smoothing, bias=args.bias,
                          budget=args.budget, map_source=getattr(args, "map_source", None))


def add_drop_options(p: argparse.ArgumentParser, what: str = "") -> None:
    """``-an``, ``-sn``, ``-dn``: leave those streams out (``args.drop``), as ffmpeg does."""
    from ..io.containers import DROP_FLAGS

    for kind, flag in DROP_FLAGS.items():
        p.add_argument(flag, dest="drop", action="append_const", const=kind, default=[],
                       help=f"leave the {kind} streams out{what} instead of copying them "
                       "(as ffmpeg)")


def run(args: argparse.Namespace) -> int:
    from ..errors import SalcodecError
    from ..io.pipes import is_stdout
    from ..transcode import encode

    if args.out_dir is not None:
        return run_batch_args(args)
    if len(args.paths) != 2:
        raise SalcodecError(f"encode takes INPUT OUTPUT, got {len(args.paths)} path(s); "
                            "use --out-dir DIR for several inputs")
    args.input, args.output = args.paths
    if args.distributed is not None:
        return run_distributed(args)
    _refuse_distributed_options(args)
    if args.json and is_stdout(args.output):
        # stdout carries the video; JSON mixed into it would corrupt the stream.
        raise SalcodecError(f"{args.output}: --json prints on stdout, which carries the video; "
                            "write the video to a file or a FIFO, or drop --json")
    shown = show_progress(args)
    result = encode(args.input, args.output, settings_from_args(args),
                    overwrite=args.overwrite, progress=args.progress, format=args.format,
                    report_qp=args.json or shown, export_map=args.export_map,
                    drop=args.drop)
    return _print_result(result, args.json)


def run_batch_args(args: argparse.Namespace) -> int:
    """``encode INPUT... --out-dir DIR``: the batch mode (see :mod:`salcodec.batch`)."""
    from ..batch import plan_batch, run_batch, summary_table
    from ..errors import SalcodecError

    if args.map_source is not None or args.export_map is not None:
        raise SalcodecError("--map and --export-map take one video; encode the files one by "
                            "one to use them")
    if args.format is not None:
        raise SalcodecError("-f is for pipes and names without extension; a batch keeps "
                            "each input's container (or .mkv)")
    if args.resume is not None:
        raise SalcodecError(f"{args.resume}: --resume is for one video in chunks; a batch "
                            "skips the outputs that exist already")
    if args.distributed is None:
        _refuse_distributed_options(args)
    else:
        _refuse_jobs(args)
        for flag, given in (("--chunk-seconds", args.chunk_seconds is not None),
                            ("--warm-seconds", args.warm_seconds is not None)):
            if given:
                raise SalcodecError(f"{flag} is for one video in chunks; a batch with "
                                    "--distributed sends whole files")
    settings = settings_from_args(args)  # bad settings: one line before any file
    items = plan_batch(args.paths, args.out_dir, settings.codec)

    def done(item) -> None:
        if args.json:
            print(json.dumps(item.as_dict()), flush=True)
        elif args.progress:
            print(f"{item.status}: {item.input}", file=sys.stderr, flush=True)

    if args.distributed is not None:
        from ..distributed import encode_batch_distributed

        encode_batch_distributed(items, settings, address=_address(args), tls=_tls(args),
                                 overwrite=args.overwrite, on_done=done, drop=tuple(args.drop))
    else:
        run_batch(items, settings, overwrite=args.overwrite, jobs=_given(args.jobs, 1),
                  report_qp=False, on_done=done, drop=tuple(args.drop))
    print(summary_table(items), file=sys.stderr)
    return 1 if any(i.status == "failed" for i in items) else 0


def summary_line(result) -> str:
    """One line for people: size, time, where the bits went and the estimated saving."""
    line = (f"{result.output}: {result.frames_out} frames, {result.bytes:,} bytes, "
            f"{result.seconds:.2f} s")
    qp = result.qp
    if qp.get("inside") is not None and qp.get("outside") is not None:
        unit = "q index" if result.settings.get("codec") == "libvpx-vp9" else "QP"
        line += (f", realised {unit} {qp['inside']:.1f} in the salient fifth vs "
                 f"{qp['outside']:.1f} elsewhere")
    elif result.settings.get("saliency"):
        line += f", mean |QP offset| {result.mean_abs_qp_offset:.2f}"
    saving = getattr(result, "plain_estimate", {}).get("saving")
    if saving is not None:
        line += (f", ~{abs(saving):.0%} {'smaller' if saving >= 0 else 'larger'} than plain "
                 "x264 (estimated)")
    return line


def add_distributed_options(p: argparse.ArgumentParser) -> None:
    """``--distributed [ADDRESS]`` and its options (see :mod:`salcodec.distributed`)."""
    g = p.add_argument_group("distributed (Dask; pip install 'salcodec[distributed]')")
    g.add_argument("--distributed", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="encode in chunks on Dask workers: without ADDRESS a local cluster on "
                   "127.0.0.1 (one worker per core), else a running scheduler (tcp://host:port "
                   "or tls://host:port). Workers read INPUT at its path. With --out-dir: one "
                   "task per file (paths shared by the workers). A Dask scheduler runs code on "
                   "its workers: never expose it to an untrusted network")
    g.add_argument("--chunk-seconds", type=float, default=None, metavar="S",
                   help="seconds of video per chunk, cut at keyframes (10)")
    g.add_argument("--warm-seconds", type=float, default=None, metavar="S",
                   help="saliency warm-up before each chunk, analysed but not encoded, so "
                   "maps at a boundary match a single-process encode (3; at least 90 frames)")
    g.add_argument("--resume", default=None, metavar="WORKDIR",
                   help="keep finished chunks in WORKDIR and reuse them after a crash or Ctrl-C")
    g.add_argument("--tls-ca-file", default=None, metavar="PEM",
                   help="CA certificate(s) for a tls:// scheduler (else Dask's configuration)")
    g.add_argument("--tls-cert", default=None, metavar="PEM", help="client certificate (TLS)")
    g.add_argument("--tls-key", default=None, metavar="PEM", help="client private key (TLS)")


def _address(args: argparse.Namespace) -> str | None:
    return None if args.distributed == "local" else args.distributed


def _tls(args: argparse.Namespace):
    from ..distributed.cluster import TLSFiles

    return TLSFiles(args.tls_ca_file, args.tls_cert, args.tls_key)


def _refuse_distributed_options(args: argparse.Namespace) -> None:
    """One line for an option of ``--distributed`` given without it (else ignored)."""
    from ..errors import SalcodecError

    if args.resume is not None:
        raise SalcodecError(f"{args.resume}: --resume goes with --distributed")
    for flag, value in (("--chunk-seconds", args.chunk_seconds),
                        ("--warm-seconds", args.warm_seconds),
                        ("--tls-ca-file", args.tls_ca_file), ("--tls-cert", args.tls_cert),
                        ("--tls-key", args.tls_key)):
        if value is not None:
            raise SalcodecError(f"{flag} goes with --distributed")


def _refuse_jobs(args: argparse.Namespace) -> None:
    from ..errors import SalcodecError

    if args.jobs is not None:
        raise SalcodecError("--jobs is for local processes; with --distributed the cluster's "
                            "workers run the files")


def run_distributed(args: argparse.Namespace) -> int:
    """``encode INPUT OUTPUT --distributed``: chunks on Dask (see :mod:`salcodec.distributed`)."""
    from ..distributed import CHUNK_SECONDS, WARM_SECONDS, encode_distributed

    _refuse_jobs(args)
    result = encode_distributed(args.input, args.output, settings_from_args(args),
                                address=_address(args),
                                chunk_seconds=_given(args.chunk_seconds, CHUNK_SECONDS),
                                warm_seconds=_given(args.warm_seconds, WARM_SECONDS),
                                resume=args.resume, overwrite=args.overwrite,
                                progress=args.progress, format=args.format,
                                export_map=args.export_map, tls=_tls(args),
                                drop=args.drop)
    return _print_result(result, args.json)


def _given(value, default):
    return default if value is None else value


def _print_result(result, as_json: bool) -> int:
    """The result as JSON on stdout, or its summary line on stderr."""
    if as_json:
        json.dump(result.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(summary_line(result), file=sys.stderr)
    return 0
