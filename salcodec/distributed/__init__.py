"""Scale-out over Dask: one video in chunks on many workers, or many files as whole tasks.

``salcodec encode IN OUT --distributed [ADDRESS]`` (:func:`encode_distributed`):

1. plan chunks at the input's keyframes from its packet index (:mod:`.chunks`);
2. scan the frames for scene cuts (one decode, in parallel), so each chunk's
   saliency warm-up starts in step with the whole-video schedule
   (:func:`.chunks.align_warm_up`);
3. encode each chunk on a worker (:mod:`.worker`): warm the saliency state on
   the frames before it, then a fresh libx264 with the job's settings (IDR
   first, closed GOPs); the packets come back to the client;
4. store each finished chunk (and the cuts), verified, in a work dir (:mod:`.resume`), so
   ``--resume DIR`` reuses them after a crash or Ctrl-C;
5. join (:mod:`.join`): one SPS/PPS checked across chunks, other streams
   copied once from the source, frame count and timestamps checked, written
   through a temporary file and renamed.

Workers read the input by path: it must be readable at the same path on every
worker (a shared file system, or the embedded cluster on this machine). The
encoded chunks travel back to the client through Dask, so the output and the
work dir need not be shared. Batch mode (``--out-dir``) sends whole files,
read and written by the workers at the given paths (shared storage).

Import this package only when asked: ``salcodec encode`` without
``--distributed`` never imports Dask.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ..encoder import StageStats
from ..errors import SalcodecError
from ..io.containers import check_codec_fits
from ..io.pipes import is_fifo, is_stdout, require_seekable
from ..io.safeio import atomic_output, resolve_output
from ..plainest import unavailable
from ..settings import EncodeSettings
from .chunks import (
    CHUNK_SECONDS,
    WARM_SECONDS,
    ChunkPlan,
    align_warm_up,
    plan_chunks,
    schedule_period,
    warm_frames,
)
from .cluster import TLSFiles, connect
from .progress import ChunkProgress
from .resume import WorkDir
from .worker import PROGRESS_TOPIC, ChunkResult, encode_chunk, scan_cuts

#: Why a distributed encode reports no realised QP and no plain-size estimate.
NOT_READ_BACK = ("not measured for --distributed encodes: the joined output is not "
                 "decoded back for its per-block QP")


def encode_distributed(input: str | os.PathLike, output: str | os.PathLike,
                       settings: EncodeSettings | None = None, *, address: str | None = None,
                       chunk_seconds: float = CHUNK_SECONDS,
                       warm_seconds: float = WARM_SECONDS,
                       resume: str | os.PathLike | None = None, overwrite: bool = False,
                       progress: bool | None = None, format: str | None = None,
                       export_map: str | os.PathLike | None = None,
                       tls: TLSFiles | None = None, n_workers: int | None = None,
                       x264_threads: int | None = None, dashboard: str | None = None,
                       retries: int = 2, drop: Iterable[str] = (), **changes):
    """Encode one video in chunks on a Dask cluster; same result type as :func:`encode`.

    Parameters
    ----------
    input, output : path
        A seekable video file readable at this path on every worker, and an
        output file (pipes are refused: workers seek in the input, the join
        needs the whole video).
    settings, overwrite, progress, format, export_map, drop, **changes
        As for :func:`salcodec.transcode.encode` (``--map`` is refused).
    address : str, optional
        ``tcp://host:port`` or ``tls://host:port`` of a running scheduler;
        None starts a LocalCluster on 127.0.0.1 sized to this machine.
    chunk_seconds : float
        Chunk length (boundaries at the first keyframe after each multiple).
    warm_seconds : float
        Saliency warm-up before each chunk (see :mod:`.worker`).
    resume : path, optional
        Work dir kept across runs: finished, verified chunks are reused.
    tls : TLSFiles, optional
        Certificates for a ``tls://`` scheduler (else Dask's configuration).
    n_workers : int, optional
        Processes of the embedded LocalCluster (default: one per core).
    x264_threads : int, optional
        libx264 threads per chunk (default 1 on the embedded cluster, whose
        workers fill the cores; libx264's own choice on a remote one).
    dashboard : str, optional
        Dashboard address of the embedded cluster (default: none).
    retries : int
        Extra tries of a chunk that raised; a chunk whose worker died is
        rescheduled by Dask on its own.
    """
    from ..io.copies import check_drop
    from ..transcode import EncodeResult, _check_export, size_budget

    started = time.monotonic()
    settings = (settings or EncodeSettings()).with_(**changes)
    drop = check_drop(drop)
    require_seekable(input, "--distributed (workers seek in the input)")
    if is_stdout(output) or is_fifo(output):
        raise SalcodecError(f"{output}: --distributed writes a file, not a pipe (the chunks are "
                            "joined at the end)")
    if settings.map_source is not None:
        raise SalcodecError(f"{settings.map_source}: --map is not supported with "
                            "--distributed; encode without it")
    if settings.codec != "libx264" or settings.pix_fmt != "yuv420p":
        raise SalcodecError(f"{input}: --distributed joins 8-bit H.264 chunks only (their "
                            "SPS/PPS are checked byte for byte); encode "
                            f"{settings.codec} {settings.pix_fmt} without --distributed")
    if export_map is not None:
        _check_export(export_map, settings, overwrite)
    target = resolve_output(output, [Path(input)], overwrite, format)
    check_codec_fits(settings.codec, target.format, target.name)
    input = os.path.abspath(input)  # workers may run elsewhere, in another directory
    timing = {}
    plan = plan_chunks(input, chunk_seconds, warm_seconds)
    timing["plan_s"] = round(time.monotonic() - started, 3)
    settings, calibration = size_budget(input, settings)
    fingerprint = plan.fingerprint(settings.as_dict(), {"export_map": export_map is not None})
    work = WorkDir(resume, fingerprint)
    ok = False
    try:
        results = _run_chunks(plan, settings, work, fingerprint, address=address, tls=tls,
                              n_workers=n_workers, x264_threads=x264_threads,
                              dashboard=dashboard, retries=retries, progress=progress,
                              export_map=export_map is not None, warm_seconds=warm_seconds,
                              timing=timing)
        from .join import join_chunks

        timing["chunks_s"] = round(time.monotonic() - started - timing["plan_s"], 3)
        joined = time.monotonic()
        with atomic_output(target.path) as tmp:
            frames, nbytes, copied, size = join_chunks(input, tmp, target.format, settings, plan,
                                                 results, target.name, drop)
        # The map only once the video is in place (as transcode.encode): a map
        # beside no video, or beside an older one, would describe other frames.
        if export_map is not None:
            _write_map(export_map, results)
        timing["join_s"] = round(time.monotonic() - joined, 3)
        ok = True
    except BaseException:
        if export_map is not None and os.path.isfile(export_map):
            os.remove(export_map)  # a map of the old output, or none, not a partial one
        raise
    finally:
        if ok or work.temporary:
            work.remove()
    stats = merge_stats(r.stats for r in results)
    offsets = stats.as_dict() if settings.saliency else {}
    return EncodeResult(
        input=str(input), output=target.name, frames_in=plan.frames, frames_out=frames,
        bytes=nbytes, seconds=round(time.monotonic() - started, 3),
        mean_abs_qp_offset=offsets.get("mean_abs_qp_offset", 0.0), width=size[0],
        height=size[1], copied_streams=copied, settings=settings.as_dict(), offsets=offsets,
        budget={"mode": settings.budget, **(calibration.as_dict() if calibration else {}),
                "chunks": len(plan.chunks),
                "chunk_task_s": round(sum(r.seconds for r in results), 3), **timing},
        qp={"note": NOT_READ_BACK} if settings.saliency else {},
        plain_estimate=unavailable(NOT_READ_BACK))


def _run_chunks(plan: ChunkPlan, settings: EncodeSettings, work: WorkDir, fingerprint: str,
                *, address, tls, n_workers, x264_threads, dashboard, retries, progress,
                export_map: bool, warm_seconds: float, timing: dict) -> list[ChunkResult]:
    """Every chunk's result: reused from the work dir, or encoded on the cluster."""
    results: dict[int, ChunkResult] = {}
    for c in plan.chunks:
        r = work.load(c.index)
        if r is not None and r.frames == c.frames and (r.map_lines is not None or
                                                         not export_map):
            results[c.index] = r
    todo = [c for c in plan.chunks if c.index not in results]
    timing["reused_chunks"] = len(results)
    bar = ChunkProgress(plan.frames, progress, sum(r.frames for r in results.values()))
    try:
        if todo:
            with connect(address, tls, n_workers, dashboard) as (client, local):
                plan = _warm_up_plan(client, plan, settings, work, fingerprint, retries,
                                     warm_seconds)
                todo = [plan.chunks[c.index] for c in todo]
                _submit_all(client, local, todo, plan, settings, work, fingerprint, results,
                            bar, x264_threads, retries, export_map)
    finally:
        bar.close()
    return [results[c.index] for c in plan.chunks]


def _warm_up_plan(client, plan: ChunkPlan, settings: EncodeSettings, work: WorkDir,
                  fingerprint: str, retries: int, warm_seconds: float) -> ChunkPlan:
    """The plan with each chunk's warm-up in step with the saliency schedule.

    Needs the scene cuts: scanned on the cluster (one decode of the video,
    in parallel) or read back from the work dir.
    """
    if not settings.saliency:
        return replace(plan, chunks=tuple(replace(c, warm_from=c.start, seek=c.start)
                                          for c in plan.chunks))
    cuts = work.load_cuts()
    if cuts is None:
        futures = [client.submit(_task, scan_cuts, plan.input, c, retries=retries, pure=False,
                                 key=f"salcodec-scan-{fingerprint[:12]}-{c.index:05d}")
                   for c in plan.chunks]
        try:
            cuts = [pts for f in futures for pts in _result(f, plan, "scan of chunk")]
        finally:
            client.cancel(futures)
        work.save_cuts(cuts)
    period = schedule_period(settings)
    return align_warm_up(plan, cuts, period, warm_frames(plan, warm_seconds, period))


def _task(fn, *args, **kwargs):
    """Run ``fn`` on a worker; a user error comes back as a value, so Dask does not
    retry a bad input (retries are for crashes and lost workers)."""
    try:
        return fn(*args, **kwargs)
    except SalcodecError as exc:
        return exc


def _result(future, plan: ChunkPlan, what: str):
    try:
        value = future.result()
    except SalcodecError:
        raise
    except Exception as exc:  # KilledWorker too often, a worker without salcodec, a bug
        raise SalcodecError(f"{plan.input}: {what} failed on the cluster "
                            f"({type(exc).__name__}: {exc})") from None
    if isinstance(value, SalcodecError):
        raise value
    return value


def _submit_all(client, local, todo, plan, settings, work, fingerprint, results, bar,
                x264_threads, retries, export_map) -> None:
    from distributed import as_completed

    threads = x264_threads if x264_threads is not None else (1 if local else 0)
    client.subscribe_topic(PROGRESS_TOPIC, bar.event)
    futures = {client.submit(_task, encode_chunk, plan.input, c, settings, x264_threads=threads,
                             export_map=export_map, retries=retries, pure=False,
                             key=f"salcodec-chunk-{fingerprint[:12]}-{c.index:05d}"): c
               for c in todo}
    try:
        for future in as_completed(futures):
            c = futures[future]
            r = _result(future, plan, f"chunk {c.index}")
            work.save(r)
            results[c.index] = r
            bar.finished(c.index, r.frames)
    finally:
        client.unsubscribe_topic(PROGRESS_TOPIC)
        client.cancel(list(futures))


def merge_stats(parts) -> StageStats:
    """One :class:`StageStats` from the chunks' (as the whole video's would be)."""
    total = StageStats()
    for s in parts:
        total.frames += s["frames"]
        total.regions += s["regions"]
        total.scene_cuts += s["scene_cuts"]
        total.sum_abs_offset += s["sum_abs_offset"]
        total.sum_offset += s["sum_offset"]
        total.min_offset = min(total.min_offset, s["min_offset"])
        total.max_offset = max(total.max_offset, s["max_offset"])
        for k, v in s["histogram"].items():
            total.histogram[int(k)] = total.histogram.get(int(k), 0) + v
    return total


def _write_map(path, results: list[ChunkResult]) -> None:
    """The whole video's sidecar from the chunks' lines, frames renumbered.

    One header (the first chunk's), then every chunk's frame lines; written
    through a temporary file and renamed (:func:`salcodec.io.safeio.atomic_output`).
    """
    n = 0
    header = False
    with atomic_output(Path(path)) as tmp, open(tmp, "w", encoding="utf-8") as out:
        for r in results:
            lines = zlib.decompress(r.map_lines).decode().splitlines()
            if not lines:
                continue
            if not header:
                out.write(lines[0] + "\n")
                header = True
            for line in lines[1:]:
                rec = json.loads(line)
                rec["frame"] = n
                n += 1
                out.write(json.dumps(rec, separators=(",", ":")) + "\n")


def encode_batch_distributed(items, settings: EncodeSettings, *, address: str | None = None,
                             tls: TLSFiles | None = None, n_workers: int | None = None,
                             overwrite: bool = False, on_done=None, drop: tuple[str, ...] = ()):
    """Batch mode on a cluster: each file one task (see :func:`salcodec.batch.run_batch`).

    Inputs and outputs are read and written by the workers at the given paths
    (absolute), so they must be shared between the workers and this machine.
    """
    from ..batch import run_batch

    with connect(address, tls, n_workers) as (client, _):
        return run_batch(items, settings, overwrite=overwrite, executor=client.get_executor(),
                         on_done=on_done, drop=drop)


__all__ = ["CHUNK_SECONDS", "WARM_SECONDS", "TLSFiles", "encode_batch_distributed",
           "encode_distributed", "merge_stats"]
