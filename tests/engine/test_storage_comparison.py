"""The side-by-side storage comparison: each run is the headless trainer's, only the
storage format differs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.data.session import SessionError, parse_session
from engine.data.storage_comparison import compare_storage
from engine.data.tasks import PrecisionSpec, TrainTask
from engine.headless.runner import run_session

ROOT = Path(__file__).resolve().parents[2]


def seed(dtype: str = "float32", **task: object):
    raw = json.loads((ROOT / "examples" / "seed.json").read_text())
    raw["dtype"] = dtype
    raw["task"] = {"kind": "train", "lr": 0.1, "steps": 40, **task}
    return parse_session(json.dumps(raw))


def test_each_run_is_the_headless_run_of_that_format() -> None:
    runs = compare_storage(seed(), TrainTask(lr=0.1), [None, PrecisionSpec(storage="bfloat16")],
                           40)
    for run, precision in zip(runs, [None, {"storage": "bfloat16"}], strict=True):
        extra = {} if precision is None else {"precision": precision}
        headless = run_session(seed(**extra)).result
        assert run.losses.tolist() == headless["history"]["loss"]
        final = [layer["weight"][0][0] for layer in headless["network"]["layers"]
                 if "weight" in layer]
        assert run.weights[-1].tolist() == final
    plain, bf16 = runs
    assert plain.label == "float32 (compute dtype)"
    assert np.all(bf16.weights[:, 0] == bf16.weights[0, 0])  # W1 never moves
    assert bf16.weights[-1, 1] != bf16.weights[0, 1]  # W2 does
    assert bf16.swamped[0].tolist() == [1.0, 0.0]


def test_stochastic_rounding_follows_the_float32_path_on_average() -> None:
    plain, nearest, stochastic = compare_storage(
        seed(), TrainTask(lr=0.1), [None, PrecisionSpec(storage="bfloat16"),
                                    PrecisionSpec(storage="bfloat16", rounding="stochastic")],
        20, stochastic_repeats=64)
    assert stochastic.repeats == 64
    moved_float32 = plain.weights[-1, 0] - plain.weights[0, 0]  # about -3.6e-4
    moved_nearest = nearest.weights[-1, 0] - nearest.weights[0, 0]
    moved_stochastic = stochastic.weights[-1, 0] - stochastic.weights[0, 0]
    assert moved_nearest == 0
    # a bfloat16 gap here is 2^-9 = 2e-3: the mean of 64 runs lands near float32's path
    assert abs(moved_stochastic - moved_float32) < abs(moved_float32) * 0.6


def test_a_format_wider_than_the_dtype_is_refused() -> None:
    with pytest.raises(SessionError, match="wider"):
        compare_storage(seed("float32"), TrainTask(), [PrecisionSpec(storage="float64")], 3)
