"""Datasets: Playground's rules and labels, seeding, and CSV errors that name the line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data.datasets import DatasetError, load_csv, make_dataset


@pytest.mark.parametrize("name", ["circle", "xor", "gaussian", "spiral", "plane",
                                  "multi_gaussian", "sin"])
def test_seeded_and_sized(name: str) -> None:
    a = make_dataset(name, 100, 0.1, seed=4)
    b = make_dataset(name, 100, 0.1, seed=4)
    c = make_dataset(name, 100, 0.1, seed=5)
    assert a.inputs.shape[0] == 100
    assert np.array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, c.inputs)


@pytest.mark.parametrize("name", ["circle", "xor", "gaussian", "spiral"])
def test_classification_labels_are_plus_minus_one_and_balanced(name: str) -> None:
    data = make_dataset(name, 200, 0.0, seed=0)
    assert set(np.unique(data.targets)) == {-1.0, 1.0}
    if name != "xor":
        assert (data.targets > 0).sum() == 100
    assert set(np.unique(data.targets_for("bce_with_logits"))) == {0.0, 1.0}


def test_playground_rules_without_noise() -> None:
    circle = make_dataset("circle", 400, 0.0, seed=1)
    radius = np.hypot(*circle.inputs.T)
    assert np.all((radius < 2.5) == (circle.targets > 0))
    xor = make_dataset("xor", 400, 0.0, seed=1)
    assert np.all((xor.inputs[:, 0] * xor.inputs[:, 1] >= 0) == (xor.targets > 0))
    assert np.abs(xor.inputs).min() >= 0.3  # the padding around the axes
    plane = make_dataset("plane", 400, 0.0, seed=1)
    np.testing.assert_allclose(plane.targets, plane.inputs.sum(1) / 10)
    spiral = make_dataset("spiral", 200, 0.0, seed=1)
    np.testing.assert_allclose(np.hypot(*spiral.inputs[:100].T), np.arange(100) / 100 * 5)
    multi = make_dataset("multi_gaussian", 400, 0.0, seed=1)
    assert multi.targets.min() >= -1
    assert multi.targets.max() <= 1


def test_bad_sizes() -> None:
    with pytest.raises(DatasetError, match="samples"):
        make_dataset("circle", 0, 0.0, seed=0)
    with pytest.raises(DatasetError, match="noise"):
        make_dataset("circle", 10, -1.0, seed=0)


def test_csv_with_header_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n\n5,6,1\n")
    data = load_csv(path, ["b", "a"], "label", "classification")
    np.testing.assert_array_equal(data.inputs, [[2, 1], [4, 3], [6, 5]])
    assert data.feature_names == ("b", "a")
    default = load_csv(path)
    assert default.inputs.shape == (3, 2)


@pytest.mark.parametrize(("text", "message"), [
    ("a,b\n1,2\n3\n", "line 3: expected 2 columns, got 1"),
    ("a,b\n1,2\n3,x\n", "line 3, column 2: 'x' is not a number"),
    ("", "no rows"),
    ("a,b\n", "no data rows"),
    ("1\n2\n", "at least two columns"),
])
def test_malformed_csv_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        load_csv(path)


def test_csv_unknown_column(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="no column named 'c'"):
        load_csv(path, ["c"], "b")
