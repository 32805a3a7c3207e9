"""Batch encodes: inputs and folders into --out-dir, names mirrored, one bad file reported."""

import json
import subprocess
import sys

import pytest

from salcodec.batch import plan_batch
from salcodec.errors import SalcodecError

from .media import CARPHONE, DATA, write_clip


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    write_clip(src / "a.mp4", CARPHONE, limit=8)
    write_clip(src / "sub" / "b.avi", CARPHONE, codec="mpeg4", limit=8)
    (src / "broken.mp4").write_bytes((DATA / "bbb_audio.mp4").read_bytes()[:3000])
    (src / "notes.txt").write_text("not a video")
    return src


def salcodec(*args):
    return subprocess.run([sys.executable, "-m", "salcodec", *map(str, args)],
                          capture_output=True, text=True)


def test_folder_batch_finishes_the_rest_reports_the_bad_file_and_exits_1(folder, tmp_path):
    out = tmp_path / "out"
    proc = salcodec("encode", folder, "--out-dir", out, "--jobs", "2", "--model", "lc")
    assert proc.returncode == 1
    # Names mirrored; an extension encode cannot write becomes .mkv; other files ignored.
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.mp4", "sub/b.mkv"]
    table = proc.stderr.strip().splitlines()
    assert table[0].split()[:4] == ["status", "frames", "bytes", "seconds"]
    failed = [line for line in table if line.startswith("failed")]
    assert len(failed) == 1 and "broken.mp4" in failed[0] and "truncated or incomplete" in failed[0]
    assert table[-1] == "2 done, 0 skipped, 1 failed"
    # Run again: existing outputs are skipped, -y redoes them; JSON lines on stdout.
    proc = salcodec("encode", folder / "a.mp4", folder / "sub" / "b.avi", "--out-dir", out,
                    "--json", "--model", "lc")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0
    assert {r["input"]: r["status"] for r in rows} == {
        str(folder / "a.mp4"): "skipped", str(folder / "sub" / "b.avi"): "done"}
    assert next(r for r in rows if r["status"] == "done")["frames"] == 8
    proc = salcodec("encode", folder / "a.mp4", "--out-dir", out, "--json", "-y",
                    "--model", "lc")
    assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "done"


def test_plan_mirrors_names_and_refuses_collisions(folder, tmp_path):
    items = plan_batch([folder], folder / "out")
    assert [i.output for i in items] == [str(folder / "out" / n)
                                        for n in ("a.mp4", "broken.mp4", "sub/b.mkv")]
    (folder / "out").mkdir()
    write_clip(folder / "out" / "old.mp4", CARPHONE, limit=2)
    # An output folder inside the input folder does not feed the batch its own outputs.
    assert len(plan_batch([folder], folder / "out")) == 3
    with pytest.raises(SalcodecError, match="both .* would be written there"):
        plan_batch([folder / "a.mp4", folder / "out" / "old.mp4", folder / "a.mp4"],
                   tmp_path / "o")


def test_single_encode_still_takes_exactly_two_paths(folder, tmp_path):
    proc = salcodec("encode", folder / "a.mp4", folder / "sub" / "b.avi", tmp_path / "x.mkv")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "use --out-dir DIR for several inputs" in proc.stderr


def test_a_cluster_failure_fails_its_file_and_keeps_the_summary(tmp_path):
    """An executor's future that raises (Dask's KilledWorker, a result that does not
    deserialise) marks its file failed; the other files and the summary are kept."""
    from concurrent.futures import Executor, Future

    from salcodec.batch import BatchItem, run_batch, summary_table
    from salcodec.settings import EncodeSettings

    class KilledWorker(Exception):
        pass

    class Flaky(Executor):
        def submit(self, fn, *args, **kwargs):
            f = Future()
            if args[0].endswith("bad.mp4"):
                f.set_exception(KilledWorker("worker lost twice"))
            else:
                f.set_result(("done", None, {"frames_out": 2}))
            return f

    items = [BatchItem(str(tmp_path / n), str(tmp_path / "out" / n))
             for n in ("good.mp4", "bad.mp4")]
    run_batch(items, EncodeSettings(), executor=Flaky())
    assert [i.status for i in items] == ["done", "failed"]
    assert items[1].error == (f"{items[1].input}: failed on the cluster "
                              "(KilledWorker: worker lost twice)")
    assert summary_table(items).splitlines()[-1] == "1 done, 0 skipped, 1 failed"


def test_batch_leaves_the_audio_out_with_an(tmp_path):
    import shutil

    import av

    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(DATA / "bbb_audio.mp4", src / "a.mp4")
    out = tmp_path / "out"
    proc = salcodec("encode", src, "--out-dir", out, "-an", "--model", "lc",
                    "--preset", "veryfast")
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out / "a.mp4")) as c:
        assert [s.type for s in c.streams] == ["video"]

