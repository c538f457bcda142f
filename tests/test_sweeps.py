"""``main.py sweep`` end to end: worker processes, failing cells, resumption, Ctrl-C, and
numbers that equal a cell's session run alone with ``main.py run``."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.core.stepper import Pass
from engine.data.experiment import build_experiment
from engine.data.session import parse_session, session_json
from engine.headless.interrupts import Interrupts
from engine.sweeps.cells import expand
from engine.sweeps.run import DIED, run_cells
from engine.sweeps.spec import parse_sweep
from engine.sweeps.worker import CellJob, cell_outcome, run_cell

ROOT = Path(__file__).resolve().parents[1]
WAIT = 120  # seconds: a safety net for a hung process, not a speed limit

BASE: dict[str, Any] = {
    "format": "chainlab/1", "seed": 0,
    "network": {"input_size": 2, "layers": [
        {"type": "linear", "out_features": 16}, {"type": "activation", "kind": "tanh"},
        {"type": "linear", "out_features": 1}]},
    "data": {"dataset": "circle", "samples": 32},
    "loss": "bce_with_logits",
    "task": {"kind": "train", "steps": 5, "lr": 0.1},
}


def write_sweep(folder: Path, axes: dict[str, list[Any]], base: dict[str, Any] = BASE) -> Path:
    path = folder / "sweep.json"
    path.write_text(json.dumps({"format": "chainlab-sweep/1", "base": base, "axes": axes}))
    return path


def sweep_args(sweep: Path, out: Path, workers: int = 2) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), "sweep", str(sweep), "--out", str(out),
            "--workers", str(workers), "--no-plots"]


def run_sweep(sweep: Path, out: Path, workers: int = 2) -> subprocess.CompletedProcess[str]:
    return subprocess.run(sweep_args(sweep, out, workers), capture_output=True, text=True,
                          timeout=WAIT)


def read_rows(out: Path) -> list[dict[str, str]]:
    with (out / "sweep.csv").open() as stream:
        return list(csv.DictReader(stream))


def finished(out: Path) -> set[str]:
    return {p.parent.name for p in (out / "runs").glob("*/result.json")}


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path,
                                                            subprocess.CompletedProcess[str]]:
    """A 2 x 2 grid (activation x seed) and one lr that makes every cell of it invalid."""
    folder = tmp_path_factory.mktemp("grid")
    sweep = write_sweep(folder, {"activation": ["tanh", "relu"], "seed": [0, 1],
                                 "task.lr": [0.1, -1.0]})
    out = folder / "out"
    return sweep, out, run_sweep(sweep, out)


def test_a_grid_runs_in_workers_and_invalid_cells_fail_alone(grid: Any) -> None:
    _, out, result = grid
    assert result.returncode == 1, result.stderr
    rows = read_rows(out)
    assert list(rows[0]) == ["id", "activation", "seed", "task.lr", "status", "loss",
                             "grad_ratio", "best_loss", "seconds", "error"]
    assert len(rows) == 8
    ok = [r for r in rows if r["status"] == "ok"]
    bad = [r for r in rows if r["status"] == "failed"]
    assert {(r["activation"], r["seed"]) for r in ok} == \
        {(a, s) for a in ("tanh", "relu") for s in ("0", "1")}
    assert all(r["task.lr"] == "0.1" and r["error"] == "" for r in ok)
    assert len(bad) == 4
    assert all(r["task.lr"] == "-1.0" and r["error"].startswith("task.lr: ") for r in bad)
    assert finished(out) == {r["id"] for r in ok}
    assert len({r["loss"] for r in ok}) == 4  # four different sessions
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]  # no staging
    document = json.loads((out / "sweep.json").read_text())
    assert document["sweep"]["axes"]["task.lr"] == [0.1, -1.0]
    assert [row["id"] for row in document["rows"]] == [r["id"] for r in rows]
    assert "4 of 8 cells ok, 4 failed" in result.stderr


def test_the_csv_numbers_are_those_of_the_cell_run_alone(grid: Any, tmp_path: Path) -> None:
    _, out, _ = grid
    row = next(r for r in read_rows(out) if r["status"] == "ok" and r["activation"] == "relu")
    alone = tmp_path / "alone"
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "run",
                             str(out / "runs" / row["id"] / "session.json"), "--out",
                             str(alone), "--no-plots", "--quiet"],
                            capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    alone_result = json.loads((alone / "result.json").read_text())
    assert float(row["loss"]) == alone_result["loss"]
    # an independent ratio: numpy's norm of the first and last linear layers' dL/dW
    linear = [e for e in alone_result["layers"] if e["type"] == "linear"]
    first, last = (np.linalg.norm(np.asarray(e["grad_weight"])) for e in (linear[0],
                                                                          linear[-1]))
    assert float(row["grad_ratio"]) == pytest.approx(first / last, rel=1e-12)
    assert row["best_loss"] == ""


def test_a_rerun_skips_done_cells_and_runs_only_a_deleted_one(grid: Any) -> None:
    sweep, out, _ = grid
    before = read_rows(out)
    again = run_sweep(sweep, out)
    assert again.returncode == 1
    assert "4 of 8 cells already done, skipped" in again.stderr
    assert "different sweep file" not in again.stderr  # the same sweep: no notice
    assert read_rows(out) == before  # seconds included: nothing ran again
    victim = next(r for r in before if r["status"] == "ok")
    shutil.rmtree(out / "runs" / victim["id"])
    third = run_sweep(sweep, out)
    assert "3 of 8 cells already done, skipped" in third.stderr
    after = read_rows(out)
    changed = [b["id"] for b, a in zip(before, after, strict=True)
               if b["seconds"] != a["seconds"]]
    assert changed == [victim["id"]]
    assert [(b["id"], b["loss"]) for b in before] == [(a["id"], a["loss"]) for a in after]


def test_a_folder_of_another_sweep_says_so_and_reuses_the_same_cells(grid: Any,
                                                                       tmp_path: Path) -> None:
    _, out, _ = grid
    folder = tmp_path / "out"
    shutil.copytree(out, folder)  # the module's grid stays as it is
    other = write_sweep(tmp_path, {"activation": ["tanh", "relu"], "seed": [0, 1]})
    result = run_sweep(other, folder)
    assert result.returncode == 0, result.stderr
    assert f"{folder} holds results of a different sweep file; cells with the same " \
        "content are reused" in result.stderr
    assert "4 of 4 cells already done, skipped" in result.stderr  # the grid's lr 0.1 cells
    assert len(read_rows(folder)) == 4


def test_an_unknown_axis_is_refused_with_exit_2(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, {"task.learning_rate": [0.1]})
    result = run_sweep(sweep, tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {sweep}: axes.task.learning_rate: unknown axis: not a shorthand "
        "('activation', 'norm', 'depth') and not a field of the base session"]
    assert not (tmp_path / "out").exists()


def test_nan_in_an_axis_is_refused_before_anything_runs(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, {"task.lr": [0.1, float("nan")]})  # JSON's NaN token
    result = run_sweep(sweep, tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {sweep}: axes.task.lr.1: nan is not a number a session can hold: use a "
        "finite number"]
    assert not (tmp_path / "out").exists()


def test_a_depth_beyond_the_limit_is_refused_before_any_network_is_built(
        tmp_path: Path) -> None:
    base = {**BASE, "network": {"input_size": 2, "layers": [
        {"type": "linear", "out_features": 4}, {"type": "activation", "kind": "tanh"},
        {"type": "linear", "out_features": 1}]}}
    sweep = write_sweep(tmp_path, {"depth": [2, 100_000_000]}, base)
    result = run_sweep(sweep, tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {sweep}: axes.depth.1: expected a whole number of blocks, from 1 to "
        "10,000, got 100000000"]


def test_a_damaged_cell_result_runs_the_cell_again(grid: Any, tmp_path: Path) -> None:
    sweep, out, _ = grid
    folder = tmp_path / "out"
    shutil.copytree(out, folder)  # the module's grid stays as it is
    before = read_rows(folder)
    victims = [row["id"] for row in before if row["status"] == "ok"][:2]
    (folder / "runs" / victims[0] / "result.json").write_text("[]")  # JSON, wrong shape
    (folder / "runs" / victims[1] / "result.json").write_text('{"layers": 5}')
    again = run_sweep(sweep, folder)
    assert again.returncode == 1, again.stderr  # the invalid cells still fail
    assert "Traceback" not in again.stderr
    assert "2 of 8 cells already done, skipped" in again.stderr  # 4 ok, 2 of them damaged
    after = read_rows(folder)
    assert [(b["id"], b["loss"]) for b in before] == [(a["id"], a["loss"]) for a in after]


def test_a_summary_that_cannot_be_written_says_so_and_keeps_the_cells(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import io

    from engine.sweeps import command

    def full_disk(*_args: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(command, "write_summary", full_disk)
    sweep = write_sweep(tmp_path, {"seed": [0, 1]})
    stderr = io.StringIO()
    out = tmp_path / "out"
    status = command.sweep_command(sweep, command.SweepOptions(out=str(out), workers=1),
                                   stderr)
    assert status == 2
    assert stderr.getvalue().strip().splitlines()[-1] == (
        f"error: {sweep}: --out: cannot write the summary to {out}: No space left on "
        f"device; the finished cells are kept in {out / 'runs'}: run the sweep again to "
        "write it")
    assert len(finished(out)) == 2


def test_an_out_folder_of_something_else_is_refused(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, {"seed": [0]})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    result = run_sweep(sweep, tmp_path / "out")
    assert result.returncode == 2
    assert "--out: " in result.stderr
    assert "a sweep did not write" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["notes.txt"]


def test_ctrl_c_keeps_finished_cells_and_writes_the_summary(tmp_path: Path) -> None:
    slow = {**BASE, "task": {"kind": "train", "steps": 3000, "lr": 0.1}}
    sweep = write_sweep(tmp_path, {"seed": list(range(12))}, slow)
    out = tmp_path / "out"
    process = subprocess.Popen(sweep_args(sweep, out, workers=1), stderr=subprocess.PIPE,
                               text=True)
    try:
        _wait_for(lambda: bool(finished(out)) or process.poll() is not None)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    done = finished(out)
    rows = read_rows(out)
    assert 1 <= len(done) < 12
    assert {r["id"] for r in rows} == done
    assert all(r["status"] == "ok" for r in rows)
    for cell in done:  # each intact: its result and the session that reproduces it
        assert json.loads((out / "runs" / cell / "result.json").read_text())["loss"] > 0
        assert (out / "runs" / cell / "session.json").is_file()
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    assert "interrupted by SIGINT" in stderr


def _wait_for(condition: Any) -> None:
    import time

    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the sweep never finished a cell"
        time.sleep(0.05)


def dying_runner(job: CellJob) -> dict[str, Any]:
    """run_cell, except that the cell with seed 1 kills its worker process; the others
    first wait until it has, so that they are running when the pool breaks."""
    marker = Path(job.runs).parent / "died"
    if json.loads(job.session)["seed"] == 1:
        marker.touch()
        os._exit(3)
    _wait_for(marker.exists)
    return run_cell(job)


def test_a_worker_that_dies_fails_only_its_cell(tmp_path: Path) -> None:
    sweep = parse_sweep(json.dumps({"format": "chainlab-sweep/1", "base": BASE,
                                    "axes": {"seed": [0, 1, 2]}}))
    cells = expand(sweep)
    with Interrupts() as interrupts:
        result = run_cells(cells, tmp_path / "runs", sweep.base_dir, 2, interrupts,
                           runner=dying_runner)
    statuses = [result.outcomes[cell.id]["status"] for cell in cells]
    assert statuses == ["ok", "failed", "ok"]
    assert result.outcomes[cells[1].id]["error"] == DIED
    assert finished(tmp_path) == {cells[0].id, cells[2].id}
    assert all(math.isfinite(result.outcomes[c.id]["loss"]) for c in (cells[0], cells[2]))


@pytest.mark.parametrize("task", [
    {"kind": "train", "steps": 5, "lr": 0.1},
    {"kind": "evolve", "population": 10, "generations": 3, "device": "cpu"},
    {"kind": "evolve", "population": 10, "generations": 3, "device": "cpu",
     "algorithm": "openes"},
    {"kind": "evolve", "population": 10, "generations": 3, "device": "cpu",
     "algorithm": "pso"}], ids=["train", "ga", "openes", "pso"])
def test_a_cells_outcome_is_its_session_with_the_resulting_network(tmp_path: Path,
                                                                    task: dict) -> None:
    session = parse_session(json.dumps({**BASE, "task": task}))
    runs = tmp_path / "runs"
    runs.mkdir()
    outcome = run_cell(CellJob("c", session_json(session), str(runs), str(tmp_path)))
    assert outcome["status"] == "ok", outcome
    opened, result = cell_outcome(runs / "c")
    assert opened.task == session.task
    assert opened.network != session.network  # not the starting point
    # an independent pass over the opened session gives the loss the cell reported
    experiment = build_experiment(opened)
    loss = Pass(experiment.chain, experiment.inputs, experiment.targets, opened.loss).run().loss
    assert float(loss) == result["loss"]


def test_cells_that_differ_only_in_an_ignored_setting_run_once_and_say_so(
        tmp_path: Path) -> None:
    base = {**BASE, "task": {"kind": "evolve", "population": 4, "generations": 1}}
    sweep = write_sweep(tmp_path, {"task.algorithm": ["ga", "pso"],
                                   "task.openes.sigma": [0.1, 0.2]}, base)
    out = tmp_path / "out"
    result = run_sweep(sweep, out, workers=1)
    assert result.returncode == 0, result.stderr
    assert "note: 2 of 4 cells run the same session as another cell and share its run: " \
        "e.g. task.openes.sigma = 0.2 changes nothing" in result.stderr
    assert len(finished(out)) == 2
    rows = read_rows(out)
    assert len(rows) == 4
    assert all(row["status"] == "ok" for row in rows)


def test_a_killed_cells_staging_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """A worker ended by a SIGTERM to the whole process group leaves its cell's staging
    folder behind (engine/core/processes.py): the sweep removes it."""
    sweep = write_sweep(tmp_path, {"seed": [0]})
    out = tmp_path / "out"
    (out / "runs" / ".c0.staging-abc123").mkdir(parents=True)
    (out / "runs" / ".c0.staging-abc123" / "session.json").write_text("{}")
    result = run_sweep(sweep, out, workers=1)
    assert result.returncode == 0, result.stderr
    assert not list((out / "runs").glob(".*"))
    assert len(finished(out)) == 1
