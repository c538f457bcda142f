"""Multi-class classification for real (issue 8: labels 0/1/2 were trained as 0 vs {1, 2}):
K-class cross entropy on CSV data and on the built-in spirals and blobs, headless."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.datasets import load_csv, make_dataset
from tests.test_cli import run_cli


def three_class_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = ["x1,x2,label"]
    for label, (cx, cy) in enumerate([(-3, 0), (3, 0), (0, 4)]):
        for x, y in rng.normal(size=(30, 2)) * 0.7 + (cx, cy):
            rows.append(f"{x:.5f},{y:.5f},{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def session(network_out: int, data: dict) -> dict:
    return {
        "format": "chainlab/1", "seed": 3, "dtype": "float64",
        "network": {"input_size": 2, "layers": [
            {"type": "linear", "out_features": 8}, {"type": "activation", "kind": "tanh"},
            {"type": "linear", "out_features": network_out}]},
        "data": data, "loss": "cross_entropy",
        "task": {"kind": "train", "lr": 0.3, "steps": 150},
    }


def test_classification_csv_keeps_its_labels(tmp_path: Path) -> None:
    data = load_csv(three_class_csv(tmp_path / "three.csv"), task="classification")
    assert data.classes == 3
    assert set(np.unique(data.targets_for("cross_entropy"))) == {0.0, 1.0, 2.0}
    signed = tmp_path / "signed.csv"
    signed.write_text("a,b,y\n1,2,-1\n3,4,1\n")
    playground_style = load_csv(signed, task="classification")
    assert playground_style.signed_labels
    assert list(playground_style.targets_for("bce_with_logits")) == [0.0, 1.0]
    fractional = tmp_path / "fractional.csv"
    fractional.write_text("a,b,y\n1,2,0\n3,4,1.5\n")
    with pytest.raises(ValueError, match=r"line 3: class label 1\.5 is not a whole number"):
        load_csv(fractional, task="classification")


@pytest.mark.parametrize("name", ["spirals", "blobs"])
@pytest.mark.parametrize("classes", [2, 3, 5])
def test_k_class_datasets(name: str, classes: int) -> None:
    data = make_dataset(name, 101, 0.1, seed=2, classes=classes)
    assert data.classes == classes
    assert data.inputs.shape == (101, 2)
    counts = np.bincount(data.targets.astype(int))
    assert len(counts) == classes
    assert counts.max() - counts.min() <= 1  # balanced
    again = make_dataset(name, 101, 0.1, seed=2, classes=classes)
    assert np.array_equal(data.inputs, again.inputs)


def test_three_class_csv_trains_with_cross_entropy(tmp_path: Path) -> None:
    csv_path = three_class_csv(tmp_path / "three.csv")
    result = run_cli(tmp_path, session(3, {"dataset": "csv", "path": str(csv_path),
                                           "task": "classification"}))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    data = json.loads((out / "result.json").read_text())
    losses = data["history"]["loss"]
    assert losses[-1] < 0.3 * losses[0]
    # the final network classifies the three blobs: argmax of its outputs = the label
    table = np.loadtxt(csv_path, delimiter=",", skiprows=1)
    logits = torch.tensor(data["layers"][-1]["output"])
    assert (logits.argmax(1).numpy() == table[:, 2]).mean() > 0.95
    assert (out / "decision_boundary.png").stat().st_size > 1000
    # its colours are checked in tests/gui/test_boundary_view.py


def test_labels_that_do_not_fit_the_output_width_are_refused(tmp_path: Path) -> None:
    csv_path = three_class_csv(tmp_path / "three.csv")
    result = run_cli(tmp_path, session(2, {"dataset": "csv", "path": str(csv_path),
                                           "task": "classification"}))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "data.targets: cross_entropy labels must lie in 0..1 (the chain has 2 outputs)" \
        in result.stderr


def test_built_in_spirals_headless(tmp_path: Path) -> None:
    result = run_cli(tmp_path, session(4, {"dataset": "spirals", "samples": 120,
                                           "classes": 4, "noise": 0.05}))
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    assert data["history"]["loss"][-1] < data["history"]["loss"][0]
