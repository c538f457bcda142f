"""``main.py run`` with weights stored in a narrow format: the history says which updates
were swamped, and the written weights are exactly representable in that format."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from tests.test_cli import SEED, run_cli

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16,
          "float8_e5m2": torch.float8_e5m2}


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_precision_run_records_swamped_updates(tmp_path: Path, rounding: str) -> None:
    session = {**SEED, "dtype": "float32", "task": {
        "kind": "train", "lr": 0.1, "steps": 30,
        "precision": {"storage": "bfloat16", "rounding": rounding}}}
    result = run_cli(tmp_path, session, "--no-plots")
    assert result.returncode == 0, result.stderr
    out = json.loads((tmp_path / "out" / "result.json").read_text())
    history = out["history"]
    assert len(history["swamped"]) == 30
    assert all(len(row) == 2 for row in history["swamped"])
    if rounding == "nearest":
        assert history["swamped"][0] == [1.0, 0.0]  # the seed example's first step
    for name in ("forward_overflow", "forward_flushed", "backward_overflow",
                 "backward_flushed"):
        assert history[name] == [0] * 30
    for layer in out["network"]["layers"]:
        for key in ("weight", "bias"):
            if key in layer:
                values = torch.tensor(layer[key], dtype=torch.float32)
                assert torch.equal(values, values.to(torch.bfloat16).float()), key
    with (tmp_path / "out" / "history.csv").open() as stream:
        header = next(csv.reader(stream))
    assert header[-6:] == ["swamped_0", "swamped_2", "forward_overflow", "forward_flushed",
                           "backward_overflow", "backward_flushed"]


def test_without_precision_the_history_has_no_swamped_columns(tmp_path: Path) -> None:
    session = {**SEED, "task": {"kind": "train", "lr": 0.1, "steps": 3}}
    result = run_cli(tmp_path, session, "--no-plots")
    assert result.returncode == 0, result.stderr
    out = json.loads((tmp_path / "out" / "result.json").read_text())
    assert "swamped" not in out["history"]


def test_a_storage_wider_than_the_dtype_is_one_line(tmp_path: Path) -> None:
    session = {**SEED, "dtype": "float32", "task": {
        "kind": "train", "precision": {"storage": "float64"}}}
    result = run_cli(tmp_path, session)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "task.precision.storage" in result.stderr
    assert not (tmp_path / "out").exists()
