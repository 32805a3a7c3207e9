"""The fuzz harness (benchmarks/fuzz.py): reproducible cases, a short fixed slice of the
CLI run, and the crashes it found, kept as regression tests (issue 10)."""

import pytest

from benchmarks import fuzz

pytestmark = pytest.mark.filterwarnings("ignore::salcodec.errors.SalcodecWarning")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    seeds = fuzz.build_corpus(tmp_path_factory.mktemp("corpus"))
    return seeds, {p: fuzz.layout(p) for p in seeds}


def test_seed_corpus_covers_the_containers(corpus):
    seeds, layouts = corpus
    assert {p.suffix for p in seeds} == {".mp4", ".mkv", ".avi", ".webm", ".ts"}
    for p in seeds:
        assert 0 < p.stat().st_size < 40_000
        lay = layouts[p]
        assert lay.packets and lay.headers  # payloads and structure both to mutate
        assert fuzz.decoded_frames(p) >= 6


def test_cases_are_reproducible_and_mutated(corpus):
    seeds, layouts = corpus
    for i in range(20):
        src, a, done = fuzz.make_case(seeds, layouts, 5, i)
        assert (src, a, done) == fuzz.make_case(seeds, layouts, 5, i)
        assert done and a != src.read_bytes()


def test_judge_flags_what_it_should():
    ok = fuzz.Run("inspect", ["inspect", "x", "--json"], 0, 1.0, "{}", "")
    assert fuzz.problems(ok) == []
    one_line = fuzz.Run("encode", ["encode"], 1, 1.0, "", "salcodec: error: x: corrupt\n")
    assert fuzz.problems(one_line) == []
    tb = fuzz.Run("encode", ["encode"], 1, 1.0, "",
                  "Traceback (most recent call last):\n  ...\nValueError: boom\n")
    assert fuzz.problems(tb) == ["traceback", "0 'salcodec: error:' lines on failure"]
    assert fuzz.problems(fuzz.Run("quality", ["quality"], -11, 1.0, "", "")) == [
        "exit status -11"]
    assert fuzz.problems(fuzz.Run("inspect", ["inspect"], None, 90.0, "", ""))[0].startswith(
        "hang")


def test_fixed_slice_of_the_cli_fuzz_run(corpus, tmp_path):
    """CI's slice: two fixed cases, each through encode, quality and inspect."""
    seeds, _ = corpus
    summary = fuzz.fuzz(cases=2, seed=0, out=tmp_path, corpus=seeds[0].parent,
                        log=lambda m: None)
    assert summary["inputs_tried"] == 2 and summary["verb_runs"] == 6
    assert summary["findings"] == []


def _mp4_without_tracks(data: bytes) -> bytes:
    # Rename every 'trak' box to 'free': the file still parses, with no streams in it.
    return data.replace(b"trak", b"free")


def test_regression_mp4_with_no_streams_is_one_line(corpus, tmp_path):
    """Fuzz case 1:21 (header bit flips hid the only track): encode raised
    UnboundLocalError from its cleanup instead of 'no video stream'."""
    seeds, layouts = corpus
    src = next(p for p in seeds if p.name == "h264.mp4")
    found = fuzz.run_case(src, _mp4_without_tracks(src.read_bytes()), ["trak -> free"],
                          "no-tracks", tmp_path / "a", timeout=120)
    assert found.findings == []
    assert [r["rc"] for r in found.runs] == [1, 1, 1]
    assert "no video stream" in found.runs[0]["stderr_tail"]
    # The very case the timed run found, replayed from its seed and index.
    src, data, done = fuzz.make_case(seeds, layouts, 1, 21)
    assert src.name == "h264.mp4"
    assert fuzz.run_case(src, data, done, "1:21", tmp_path / "b", timeout=120).findings == []


def test_regression_unknown_video_codec_is_one_line_in_quality(corpus, tmp_path):
    """Fuzz cases 2:13 and 2:42 (the codec tag in the sample description damaged):
    quality raised AttributeError on the stream's missing codec context."""
    seeds, layouts = corpus
    src = next(p for p in seeds if p.name == "h264.mp4")
    data = bytearray(src.read_bytes())
    at = data.rfind(b"avc1")  # the sample entry (the first one is a brand in 'ftyp')
    assert at > data.find(b"stsd") > 0
    data[at:at + 4] = b"zzz1"
    found = fuzz.run_case(src, bytes(data), ["sample entry avc1 -> zzz1"], "tag",
                          tmp_path / "a", timeout=120)
    assert found.findings == []
    assert [r["rc"] for r in found.runs] == [1, 1, 1]
    assert "unknown codec" in found.runs[1]["stderr_tail"]


def test_regression_tiny_mpegts_output_is_read_back(corpus, tmp_path):
    """Fuzz case 3:19 (an FFV1 clip cut to 2 small frames): the MPEG-TS output of
    1,880 bytes was too short for FFmpeg's format probe, so the frame-count check
    raised EOFError with a traceback; the output is now read back as mpegts."""
    seeds, layouts = corpus
    src, data, done = fuzz.make_case(seeds, layouts, 3, 19)
    assert src.name == "ffv1_odd.mkv"
    found = fuzz.run_case(src, data, done, "3:19", tmp_path, timeout=120)
    assert found.findings == []
    assert found.runs[0]["rc"] == 0, found.runs[0]["stderr_tail"]
