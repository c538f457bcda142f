"""``main.py sweep --ray``: the cells run as Ray tasks on one local 2-CPU instance, and
their folders and ``sweep.csv`` come back equal to what the local engine writes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.headless.interrupts import Interrupts
from engine.sweeps.cells import expand
from engine.sweeps.ray_runner import DIED, run_cells_on_ray, wants_gpu
from engine.sweeps.spec import parse_sweep
from engine.sweeps.worker import CellJob, run_cell
from tests.test_sweeps import (
    BASE,
    ROOT,
    WAIT,
    finished,
    read_rows,
    sweep_args,
    write_sweep,
)

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray>=2.40')")

# relu with this lr overflows in the forward pass: the cell fails inside its Ray task
AXES = {"activation": ["tanh", "relu"], "task.lr": [0.1, -1.0, 1e30]}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """One local Ray instance for the module; the sweeps join it by its address."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def ray_args(sweep: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), "sweep", str(sweep), "--out", str(out),
            "--no-plots", *extra]


def run_sweep(sweep: Path, out: Path, *extra: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(ray_args(sweep, out, *extra), capture_output=True, text=True,
                          timeout=WAIT, env=env)


def without_seconds(out: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in read_rows(out)]


def folder_bytes(out: Path) -> dict[str, bytes]:
    """Every file under runs/, but each cell's timing."""
    runs = out / "runs"
    return {str(p.relative_to(runs)): p.read_bytes() for p in sorted(runs.rglob("*"))
            if p.is_file() and p.name != "sweep_cell.json"}


@pytest.fixture(scope="module")
def grid(cluster: str, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("ray-grid")
    sweep = write_sweep(folder, AXES)
    out = folder / "out"
    return sweep, out, run_sweep(sweep, out, "--ray", cluster)


def test_a_grid_runs_on_ray_and_failing_cells_fail_alone(grid: Any) -> None:
    _, out, result = grid
    assert result.returncode == 1, result.stderr
    rows = read_rows(out)
    assert [(r["activation"], r["task.lr"]) for r in rows] == \
        [(a, lr) for a in ("tanh", "relu") for lr in ("0.1", "-1.0", "1e+30")]
    status = {(r["activation"], r["task.lr"]): (r["status"], r["error"]) for r in rows}
    assert status["relu", "1e+30"] == ("failed", "first NaN/Inf in the forward pass at "
                                                 "layer 2")
    assert all(status[a, "-1.0"][1].startswith("task.lr: ") for a in ("tanh", "relu"))
    assert all(status[a, "0.1"] == ("ok", "") for a in ("tanh", "relu"))
    # the cells that ran, failed or not, are folders here with their session and outputs
    ran = {r["id"] for r in rows if not r["id"].startswith("invalid-")}
    assert finished(out) == ran
    for cell in ran:
        names = {p.name for p in (out / "runs" / cell).iterdir()}
        assert {"session.json", "result.json", "sweep_cell.json", "history.csv"} <= names
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    assert "3 of 6 cells ok, 3 failed" in result.stderr


def test_ray_and_local_processes_write_the_same_folders_and_csv(grid: Any) -> None:
    sweep, out, _ = grid
    local = sweep.parent / "local"
    result = subprocess.run(sweep_args(sweep, local, workers=2), capture_output=True,
                            text=True, timeout=WAIT)
    assert result.returncode == 1, result.stderr
    assert without_seconds(out) == without_seconds(local)
    assert folder_bytes(out) == folder_bytes(local)


def test_a_rerun_on_ray_skips_done_cells_and_runs_only_a_deleted_one(grid: Any,
                                                                      cluster: str) -> None:
    sweep, out, _ = grid
    before = read_rows(out)
    again = run_sweep(sweep, out, "--ray", cluster)
    assert again.returncode == 1, again.stderr
    assert "4 of 6 cells already done, skipped" in again.stderr
    assert read_rows(out) == before  # seconds included: nothing ran again
    victim = next(r for r in before if r["status"] == "ok")
    shutil.rmtree(out / "runs" / victim["id"])
    third = run_sweep(sweep, out, "--ray", cluster)
    assert "3 of 6 cells already done, skipped" in third.stderr
    after = read_rows(out)
    changed = [b["id"] for b, a in zip(before, after, strict=True)
               if b["seconds"] != a["seconds"]]
    assert changed == [victim["id"]]
    assert without_seconds(out) == [{k: v for k, v in b.items() if k != "seconds"}
                                    for b in before]


def test_a_random_sweep_with_auto_joins_the_cluster_named_by_ray_address(
        cluster: str, tmp_path: Path) -> None:
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"format": "chainlab-sweep/1", "base": BASE,
                                "axes": {"activation": ["tanh", "relu"],
                                         "task.lr": [0.1, 1e30]},
                                "sample": {"random": 3}, "seed": 4}))
    out = tmp_path / "out"
    env = {**os.environ, "RAY_ADDRESS": cluster}
    result = run_sweep(path, out, "--ray", "auto", "--workers", "1", env=env)
    local = subprocess.run(sweep_args(path, tmp_path / "local"), capture_output=True,
                           text=True, timeout=WAIT)
    assert result.returncode == local.returncode, result.stderr
    rows = without_seconds(out)
    assert len(rows) == 3
    assert rows == without_seconds(tmp_path / "local")
    assert finished(out) == {r["id"] for r in rows}


def test_an_unreachable_address_is_refused_with_exit_2(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sweep = write_sweep(tmp_path, {"seed": [0]})
    out = tmp_path / "out"
    result = run_sweep(sweep, out, "--ray", f"127.0.0.1:{port}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {sweep}: --ray: cannot reach a Ray cluster at "
                               f"127.0.0.1:{port}: ")
    assert not out.exists()
    bad = run_sweep(sweep, out, "--ray", "nowhere")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"error: {sweep}: --ray: expected 'auto', HOST:PORT or ray://HOST:PORT, got "
        "'nowhere'"]
    assert not out.exists()


def test_a_task_that_raises_or_kills_its_worker_fails_only_its_cell(
        cluster: str, tmp_path: Path) -> None:
    def runner(job: CellJob) -> dict[str, Any]:  # defined here: Ray ships it by value
        seed = json.loads(job.session)["seed"]
        if seed == 1:
            raise RuntimeError("cell one is broken")
        if seed == 2:
            os._exit(3)
        return run_cell(job)

    sweep = parse_sweep(json.dumps({"format": "chainlab-sweep/1", "base": BASE,
                                    "axes": {"seed": [0, 1, 2, 3]}}))
    cells = expand(sweep)
    with Interrupts() as interrupts:
        result = run_cells_on_ray(cells, tmp_path / "runs", sweep.base_dir, None,
                                  interrupts, runner=runner)
    outcomes = [result.outcomes[cell.id] for cell in cells]
    assert [o["status"] for o in outcomes] == ["ok", "failed", "failed", "ok"]
    assert outcomes[1]["error"] == "RuntimeError: cell one is broken"
    assert outcomes[2]["error"] == DIED
    assert finished(tmp_path) == {cells[0].id, cells[3].id}


def test_ctrl_c_cancels_the_tasks_and_keeps_finished_cells(cluster: str,
                                                           tmp_path: Path) -> None:
    slow = {**BASE, "task": {"kind": "train", "steps": 3000, "lr": 0.1}}
    sweep = write_sweep(tmp_path, {"seed": list(range(12))}, slow)
    out = tmp_path / "out"
    process = subprocess.Popen(ray_args(sweep, out, "--ray", cluster, "--workers", "1"),
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT
        while not finished(out) and process.poll() is None:
            assert time.monotonic() < deadline, "the sweep never finished a cell"
            time.sleep(0.05)
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
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    assert "interrupted by SIGINT" in stderr


@pytest.mark.parametrize(("task", "gpu"), [
    ({"kind": "evolve", "device": "cuda"}, True),
    ({"kind": "evolve", "device": "auto"}, False),
    ({"kind": "evolve"}, False),
    ({"kind": "train", "steps": 5, "lr": 0.1}, False),
])
def test_only_an_evolve_cell_on_cuda_asks_ray_for_a_gpu(task: dict[str, Any],
                                                        gpu: bool) -> None:
    job = CellJob("x", json.dumps({**BASE, "task": task}), "runs", ".")
    assert wants_gpu(job) is gpu
