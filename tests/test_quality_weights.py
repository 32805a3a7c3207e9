"""Weight specs, fixation files and EW-PSNR fixation maps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from salcodec.errors import InputError, SalcodecError
from salcodec.quality import WeightSpec, fixation_map, parse_weights, read_fixations


@pytest.mark.parametrize(
    "spec, kind, target, options",
    [
        ("model:lc", "model", "lc", {}),
        ("map:/tmp/a:b.png", "map", "/tmp/a:b.png", {}),
        ("density:maps/x.mp4", "density", "maps/x.mp4", {}),
        ("fixations:fix.csv:sigma=20", "fixations", "fix.csv", {"sigma": "20"}),
        ("fixations:f.csv:units=norm:sigma=7.5", "fixations", "f.csv",
         {"units": "norm", "sigma": "7.5"}),
        ("FIXATIONS:c:/x.txt", "fixations", "c:/x.txt", {}),
        ("gaze:clips/a/gaze.csv:pool=2:sigma=9", "gaze", "clips/a/gaze.csv",
         {"pool": "2", "sigma": "9"}),
    ],
)
def test_parse_weights(spec, kind, target, options):
    w = parse_weights(spec)
    assert (w.kind, w.target, w.options) == (kind, target, options)
    assert parse_weights(str(w)) == w


@pytest.mark.parametrize(
    "spec, match",
    [
        ("lc", "KIND:VALUE"),
        ("model:", "KIND:VALUE"),
        ("saliency:lc", "unknown kind"),
        ("map:x.png:sigma=3", "unknown option 'sigma'"),
        ("fixations::sigma=3", "missing"),
        ("gaze:g.csv:units=px", "unknown option 'units' for gaze"),
    ],
)
def test_parse_weights_errors(spec, match):
    with pytest.raises(SalcodecError, match=match):
        parse_weights(spec)


def test_weightspec_rejects_unknown_kind_and_option():
    with pytest.raises(SalcodecError):
        WeightSpec("nope", "x")
    with pytest.raises(SalcodecError):
        WeightSpec("model", "lc", {"sigma": "2"})


def test_fixation_map_is_a_gaussian():
    sigma = 6.0
    m = fixation_map(np.array([[40.0, 30.0]]), (64, 96), sigma)
    assert m.shape == (64, 96)
    assert np.unravel_index(np.argmax(m), m.shape) == (30, 40)
    assert m.max() == pytest.approx(1.0)
    # Separable unit-sum kernel: the ratio at distance d is exp(-d^2 / 2 sigma^2).
    for d in (3, 6, 12):
        assert m[30, 40 + d] == pytest.approx(math.exp(-(d**2) / (2 * sigma**2)), rel=1e-6)
        assert m[30 + d, 40] == pytest.approx(math.exp(-(d**2) / (2 * sigma**2)), rel=1e-6)
    assert m[30 + 3, 40 + 4] == pytest.approx(math.exp(-25 / (2 * sigma**2)), rel=1e-6)


def test_fixation_map_sums_points_and_ignores_outside():
    pts = np.array([[10.0, 10.0], [50.0, 20.0], [50.0, 20.0], [500.0, 5.0]])
    m = fixation_map(pts, (40, 80), 4.0)
    # The doubled fixation has twice the peak of the single one (far apart: no overlap).
    assert m[20, 50] == pytest.approx(1.0)
    assert m[10, 10] == pytest.approx(0.5, rel=1e-4)
    assert not fixation_map(np.array([[-50.0, 3.0]]), (40, 80), 4.0).any()


def test_read_fixations_formats(tmp_path):
    cases = {
        "a.csv": ("x,y\n10,20\n30.5,40\n", "all"),
        "b.csv": ("frame,x,y,duration\n0,10,20,200\n3,30.5,40,180\n", "frame"),
        "c.tsv": ("t\tx\ty\n0.0\t10\t20\n0.1\t30.5\t40\n", "time"),
        "d.txt": ("# comment\n10 20\n30.5 40\n", "all"),
        "e.txt": ("0 10 20\n3 30.5 40\n", "frame"),
    }
    for name, (text, keyed) in cases.items():
        (tmp_path / name).write_text(text)
        pts, k = read_fixations(str(tmp_path / name))
        assert k == keyed, name
        assert pts[:, 1:].tolist() == [[10, 20], [30.5, 40]], name
    pts, _ = read_fixations(str(tmp_path / "b.csv"))
    assert pts[:, 0].tolist() == [0, 3]


@pytest.mark.parametrize(
    "text, match",
    [("", "no fixation"), ("a,b\n1,2\n", "needs columns x and y"), ("1 2 3 4\n", "columns"),
     ("x,y\n1,zz\n", "bad fixation row 2")],
)
def test_read_fixations_errors(tmp_path, text, match):
    p = tmp_path / "f.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=match):
        read_fixations(str(p))


def test_weights_package_keeps_its_names():
    # The split into a package keeps every name the repository imports.
    import salcodec.quality.weights as w

    for name in ("WeightSource", "WeightSpec", "fixation_map", "parse_weights",
                 "read_fixations", "KINDS", "DEFAULT_FRAME_DEGREES", "ModelWeights",
                 "MapWeights", "FixationWeights", "FunctionWeights", "GazeWeights"):
        assert hasattr(w, name), name
    assert w.KINDS == ("model", "map", "density", "fixations", "gaze")
    assert isinstance(w.WeightSpec("gaze", "g.csv", {"pool": "1"}), w.WeightSpec)
