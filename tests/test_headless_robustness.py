"""Headless runs never crash, never lose work, never leave a mixed folder (issue 9).

Each group of the issue has its cases here: valid sessions that used to crash, the
memory estimate, the folder replaced as a unit (with faults injected), parser limits,
interrupts sent to a real process, strict validation (with a property test), and the
command line's own errors.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.headless import output_folder
from engine.headless.command import RunOptions, run_command

ROOT = Path(__file__).resolve().parents[1]
SEED = json.loads((ROOT / "examples" / "seed.json").read_text())
SPIRAL = json.loads((ROOT / "examples" / "spiral_train.json").read_text())
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def write(tmp_path: Path, session: Any, name: str = "session.json") -> Path:
    path = tmp_path / name
    path.write_text(session if isinstance(session, str) else json.dumps(session))
    return path


def run(path: Path, out: Path | str, *extra: str,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "run", str(path), "--out",
                           str(out), *extra], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def in_process(path: Path, out: Path, **options: Any) -> tuple[int, str]:
    """run_command in this process (fast: torch is imported once); (status, stderr)."""
    stderr = io.StringIO()
    status = run_command(path, RunOptions(out=str(out), make_renderer=None, quiet=True,
                                          **options), stderr)
    return status, stderr.getvalue()


def one_line_refusal(status: int, stderr: str, *expected: str) -> None:
    assert status == 2, stderr
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("error: ")
    for text in expected:
        assert text in stderr, stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def no_staging_left(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if ".chainlab-" in p.name]


def changed(base: dict[str, Any], **paths: Any) -> dict[str, Any]:
    session = copy.deepcopy(base)
    for dotted, value in paths.items():
        target = session
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value
    return session


# -- 1. valid sessions that crashed mid-run -----------------------------------------------

def bn_spiral(samples: int, batch: int, steps: int = 12) -> dict[str, Any]:
    session = changed(SPIRAL, data__samples=samples, task__batch_size=batch, task__steps=steps)
    session["network"]["layers"].insert(1, {"type": "norm", "kind": "batch"})
    return session


def test_batch_norm_skips_a_last_batch_of_one(tmp_path: Path) -> None:
    # 257 samples in batches of 32: the 9th batch of each epoch has one sample
    status, stderr = in_process(write(tmp_path, bn_spiral(257, 32)), tmp_path / "out")
    assert status == 0, stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["skipped_batches"] == 1
    assert len(result["history"]["loss"]) == 12


def test_a_step_on_one_sample_with_batch_norm_is_refused_up_front(tmp_path: Path) -> None:
    session = changed(SEED)
    session["network"]["layers"].insert(1, {"type": "norm", "kind": "batch"})
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, "data: batch norm", "at least 2 samples")
    assert not (tmp_path / "out").exists()


# -- 2. memory ------------------------------------------------------------------------------

def test_huge_layers_are_refused_naming_the_layer(tmp_path: Path) -> None:
    session = changed(SEED, network={"input_size": 1, "layers": [
        {"type": "linear", "out_features": 100_000}, {"type": "activation", "kind": "tanh"},
        {"type": "linear", "out_features": 100_000}, {"type": "linear", "out_features": 1}]})
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out",
                                max_memory=8 << 30)
    one_line_refusal(status, stderr, "network.layers.2.out_features: the run needs about",
                     "GB of memory")


def test_a_huge_population_is_refused(tmp_path: Path) -> None:
    session = json.loads((ROOT / "examples" / "spiral_evolve.json").read_text())
    session["network"]["layers"][2]["out_features"] = 3000  # 48 + 51 000 + 3 001 codes
    session["task"]["population"] = 1_000_000
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out",
                                max_memory=8 << 30)
    one_line_refusal(status, stderr, "task.population: the run needs about")


def test_every_island_counts_in_the_memory_estimate(tmp_path: Path) -> None:
    from engine.data.session import parse_session
    from engine.headless.budget import estimate

    session = json.loads((ROOT / "examples" / "spiral_evolve.json").read_text())
    session["task"].update(population=1_000_000, islands=1)
    one = estimate(parse_session(json.dumps(session)), tmp_path, None)
    session["task"]["islands"] = 64
    many = estimate(parse_session(json.dumps(session)), tmp_path, None)
    assert many.largest().field == "task.population"
    assert many.largest().bytes == 64 * one.largest().bytes
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out",
                                max_memory=4 * one.total)  # one island would fit
    one_line_refusal(status, stderr, "task.population: the run needs about",
                     "64 islands' together")


def test_island_worker_processes_count_in_the_memory_estimate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker process holds an interpreter with torch (about 240 MB measured): 8
    islands on 4 cores start 4 of them; on one core, or for a small population, none."""
    from engine.data.session import parse_session
    from engine.headless import evolve
    from engine.headless.budget import WORKER_BASELINE, estimate

    monkeypatch.setattr(evolve.os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    session = json.loads((ROOT / "examples" / "spiral_evolve.json").read_text())
    session["task"].update(population=evolve.PROCESS_POPULATION, islands=8)
    terms = {term.field: term for term in
             estimate(parse_session(json.dumps(session)), tmp_path, None).terms}
    assert terms["task.islands"].bytes == 4 * WORKER_BASELINE
    assert "4 island worker processes" in terms["task.islands"].what
    session["task"]["population"] = evolve.PROCESS_POPULATION - 1  # runs in this process
    terms = {term.field: term for term in
             estimate(parse_session(json.dumps(session)), tmp_path, None).terms}
    assert "task.islands" not in terms


def test_the_default_limit_is_the_memory_available(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.headless import budget

    monkeypatch.setattr(budget, "available_memory", lambda: 300 << 20)
    session = changed(SPIRAL, data__samples=200_000, task__steps=3, task__batch_size=0)
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, "data.samples: the run needs about",
                     "300 MB is available; --max-memory sets another limit")


def test_max_memory_sets_the_limit(tmp_path: Path) -> None:
    """10⁶ samples, full batch: about 1.5 GB at its peak (measured), estimated 2.6 GB."""
    session = changed(SPIRAL, data__samples=1_000_000, task__steps=3, task__batch_size=0)
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out",
                                max_memory=1 << 30)
    one_line_refusal(status, stderr, "data.samples: the run needs about 2.6 GB",
                     "1.0 GB is set with --max-memory")


@pytest.mark.parametrize(("size", "text"), [(100, "100 bytes"), (12 << 10, "12 KB"),
                                            (300 << 20, "300 MB"), (3 << 29, "1.5 GB")])
def test_sizes_read_as_people_write_them(size: int, text: str) -> None:
    from engine.headless.budget import human_size

    assert human_size(size) == text


def test_ten_million_steps_fit(tmp_path: Path) -> None:
    """The estimate of a 10⁷-step history is small: it is kept compactly."""
    from engine.data.session import load_session
    from engine.headless.budget import estimate

    session = load_session(write(tmp_path, changed(SPIRAL, task__steps=10_000_000)))
    history = [t for t in estimate(session, tmp_path, 1000).terms if t.what == "the history"]
    assert history[0].bytes < 200 << 20


def test_thinned_history_keeps_every_loss_and_bounded_rows() -> None:
    from engine.headless.history import EveryStep, ThinnedRows

    losses, rows = EveryStep(), ThinnedRows(max_rows=100)
    for step in range(1, 100_001):
        losses.append(float(step))
        if rows.offer(step):
            rows.offer(step, [step])
    rows.close(100_000, [100_000])
    assert losses.values().tolist() == [float(s) for s in range(1, 100_001)]
    kept = [row[0] for row in rows.rows]
    assert len(kept) <= 101
    assert kept[0] == 1
    assert kept[-1] == 100_000
    stride = rows.stride
    assert stride == 1024
    assert all(b - a == stride for a, b in itertools.pairwise(kept[:-1]))


@pytest.mark.parametrize("device", ["/dev/zero", "fifo", "folder"])
def test_data_and_session_files_must_be_regular(tmp_path: Path, device: str) -> None:
    if device == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    elif device == "folder":
        path = tmp_path / "a_folder"
        path.mkdir()
    else:
        path = Path(device)
    session = changed(SEED, data={"dataset": "csv", "path": str(path)})
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, "data: ", "not a regular file")
    status, stderr = in_process(path, tmp_path / "out")  # as the session file itself
    one_line_refusal(status, stderr, "not a regular file")


def test_a_data_path_holding_a_nul_character_is_refused(tmp_path: Path) -> None:
    session = changed(SEED, data={"dataset": "csv", "path": "a\u0000b.csv"})
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, "data: ", "is not a file name: it holds a NUL character")


def test_large_csv_is_read_into_one_table(tmp_path: Path) -> None:
    rows = "\n".join(f"{i % 97 / 10},{i % 89 / 10},{i % 2}" for i in range(200_000))
    (tmp_path / "big.csv").write_text("a,b,y\n" + rows + "\n")
    session = changed(SPIRAL, data={"dataset": "csv", "path": "big.csv",
                                    "task": "classification"}, task__steps=2)
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    assert status == 0, stderr
    result = (tmp_path / "out" / "result.json").read_text()
    assert json.loads(result)["samples"] == 200_000
    assert json.loads(result)["rows_shown"] == 1000
    assert len(result) < 20 << 20  # the first 1000 samples' values, not 200 000


# -- 3. the folder replaced as a unit -------------------------------------------------------

@pytest.mark.parametrize("failing_call", [1, 2])
def test_any_failing_move_keeps_the_old_folder(tmp_path: Path, failing_call: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert in_process(write(tmp_path, SEED), out)[0] == 0
    before = snapshot(out)
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(source: Any, target: Any) -> None:
        calls["n"] += 1
        if calls["n"] == failing_call:
            raise OSError(5, "Input/output error")
        real_replace(source, target)

    monkeypatch.setattr(output_folder.os, "replace", failing_replace)
    # 1: moving the old folder aside; 2: the staging folder onto --out after that
    train = changed(SEED, task={"kind": "train", "lr": 0.1, "steps": 5})
    status, stderr = in_process(write(tmp_path, train, "train.json"), out)
    one_line_refusal(status, stderr, "--out: cannot write", "Input/output error")
    assert snapshot(out) == before
    assert no_staging_left(tmp_path)


def test_a_reused_folder_holds_only_the_new_runs_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    train = changed(SEED, task={"kind": "train", "lr": 0.1, "steps": 5})
    assert in_process(write(tmp_path, train), out)[0] == 0
    assert "history.csv" in snapshot(out)
    assert in_process(write(tmp_path, SEED, "step.json"), out)[0] == 0
    assert set(snapshot(out)) == {"result.json", "layers.csv"}
    assert json.loads((out / "result.json").read_text())["task"] == "step"


def test_a_folder_that_is_not_a_result_is_never_replaced(tmp_path: Path) -> None:
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    status, stderr = in_process(write(tmp_path, SEED), precious)
    one_line_refusal(status, stderr, "--out:", "a Chain Lab run did not write")
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_an_abort_while_writing_writes_nothing(tmp_path: Path) -> None:
    """A second Ctrl-C while the files are written: KeyboardInterrupt in the writer."""
    out = tmp_path / "out"
    assert in_process(write(tmp_path, SEED), out)[0] == 0
    before = snapshot(out)

    def renderer() -> Any:
        def render(plot: Any, path: Path) -> None:
            path.write_bytes(b"half a png")
            raise KeyboardInterrupt
        return render

    stderr = io.StringIO()
    status = run_command(write(tmp_path, changed(SEED, seed=3)),
                         RunOptions(out=str(out), make_renderer=renderer, quiet=True), stderr)
    assert status == 130
    assert "aborted by a second interrupt; nothing was written" in stderr.getvalue()
    assert snapshot(out) == before
    assert no_staging_left(tmp_path)


# -- 4. tracebacks instead of one line ------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("[" * 100_000, "nested too deeply"),
    ('{"format": "chainlab/1", "seed": ' + "7" * 5001 + "}", "invalid JSON"),
])
def test_parser_limits_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    status, stderr = in_process(write(tmp_path, text), tmp_path / "out")
    one_line_refusal(status, stderr, expected)


@pytest.mark.parametrize(("change", "path"), [
    ({"task__lr": 1e308}, "task.lr"),
    ({"task__weight_decay": 1e300}, "task.weight_decay"),
    ({"task": {"kind": "evolve", "algorithm": "pso", "population": 10, "scales": 1e308}},
     "task.scales"),
    ({"task": {"kind": "evolve", "algorithm": "openes", "population": 10,
               "scales": [1.0, 1e39, 1.0]}}, "task.scales.1"),
])
def test_settings_beyond_float32_are_refused_naming_the_field(
        tmp_path: Path, change: dict[str, Any], path: str) -> None:
    session = changed(SPIRAL, **change)
    assert session.get("dtype", "float32") == "float32"
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, f"{path}: ", "does not fit in float32 (largest 3.403e+38)")
    session["network"]["layers"][0]["init"] = {"kind": "constant", "weight": 1e308}
    session["task"] = SPIRAL["task"]
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, "network.layers.0.init.weight: ", "does not fit")
    session["network"]["layers"][0].pop("init")
    session["panels"] = {"train": {"lr": 1e308}}  # the GUI's own settings too
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, "panels.train.lr: ", "does not fit")
    session["network"]["layers"][0]["init"] = {"kind": "constant", "weight": 1e308}
    session["dtype"] = "float64"  # the same numbers are float64s
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    assert "does not fit" not in stderr


def test_extreme_evolution_settings_run(tmp_path: Path) -> None:
    session = changed(json.loads((ROOT / "examples" / "spiral_evolve.json").read_text()),
                      task__mutation_rate=1e-19, task__population=20, task__generations=3)
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    assert status == 0, stderr


def test_a_network_without_linear_layers_is_refused_before_an_evolution(
        tmp_path: Path) -> None:
    """It ran once on an empty genome (every individual alike; OpenES crashed on it):
    now one line names the field (tests/test_cli_evolve.py covers every algorithm)."""
    session = {"format": "chainlab/1", "network": {"input_size": 1, "layers": [
        {"type": "activation", "kind": "tanh"}]}, "data": {"dataset": "sin", "samples": 20},
        "task": {"kind": "evolve", "population": 300, "generations": 2}}
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, "network.layers: the network has no linear layer")


# -- 5. interrupts --------------------------------------------------------------------------

def long_training(tmp_path: Path, width: int = 16) -> Path:
    session = changed(SPIRAL, task__steps=10_000_000, task__batch_size=0, data__samples=64)
    session["network"]["layers"][0]["out_features"] = width
    session["network"]["layers"][2]["out_features"] = width
    return write(tmp_path, session)


def start(path: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), "run", str(path), "--out",
                             str(out), "--no-plots"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def wait_until_running(process: subprocess.Popen[str], parent: Path) -> None:
    """The staging folder exists once the handlers are installed: a state, not a time."""
    while not [p for p in parent.iterdir() if ".chainlab-staging-" in p.name]:
        assert process.poll() is None, process.communicate()
        os.sched_yield()


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_first_interrupt_writes_the_result_so_far(tmp_path: Path, signum: int,
                                                  status: int) -> None:
    out = tmp_path / "out"
    process = start(long_training(tmp_path), out)
    wait_until_running(process, tmp_path)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == status, stderr
    assert stderr.count("\n") == 1, stderr
    assert "interrupted by SIG" in stderr
    result = json.loads((out / "result.json").read_text())
    assert result["interrupted"] is True
    assert result["steps_done"] >= 1
    assert len(result["history"]["loss"]) == min(result["steps_done"], 10_000) or \
        result["history"]["stride"] > 1
    assert no_staging_left(tmp_path)


def test_second_interrupt_aborts_without_writing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert in_process(write(tmp_path, SEED), out)[0] == 0
    before = snapshot(out)
    process = start(long_training(tmp_path, width=1500), out)  # steps of ~0.1 s or more
    wait_until_running(process, tmp_path)
    # Two different signals: two pending SIGINTs merge into one (POSIX does not queue
    # them), a SIGTERM and a SIGINT are both handled, whichever the process sees first.
    # Sent while it is stopped, they arrive together: on a busy machine this test could
    # otherwise be descheduled between the two for longer than the run takes to finish.
    process.send_signal(signal.SIGSTOP)
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "nothing was written" in stderr
    assert stderr.count("\n") == 1, stderr
    assert snapshot(out) == before
    assert no_staging_left(tmp_path)


ISLANDS = {"format": "chainlab/1", "network": {"input_size": 2, "layers": [
    {"type": "linear", "out_features": 4}, {"type": "activation", "kind": "tanh"},
    {"type": "linear", "out_features": 1}]},
    "data": {"dataset": "circle", "samples": 32}, "loss": "bce_with_logits",
    # a population that runs in worker processes (one per core, two islands)
    "task": {"kind": "evolve", "islands": 2, "population": 1000, "generations": 10_000_000}}


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def ignores_sigint(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    ignored = int(next(line for line in status.splitlines()
                       if line.startswith("SigIgn:")).split()[1], 16)
    return bool(ignored >> (signal.SIGINT - 1) & 1)


def island_workers_ready(process: subprocess.Popen[str], count: int) -> list[int]:
    """The run's worker processes (the forkserver's children), once ``count`` of them
    have left SIGINT to the run: a state, not a time (the bound only ends a test whose
    workers never get there)."""
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the workers never left SIGINT to the run"
        servers = [pid for pid in children(process.pid)
                   if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        workers = [pid for server in servers for pid in children(server)]
        if len(workers) >= count and all(ignores_sigint(pid) for pid in workers):
            return workers
        time.sleep(0.02)


def group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="island workers need 2 cores")
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_whole_group_keeps_what_an_island_run_computed(
        tmp_path: Path, signum: int, status: int) -> None:
    """A terminal's Ctrl-C (or ``timeout``) signals the worker processes too: the run
    stops as for a signal to it alone, and nothing is left running."""
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "run",
                                str(write(tmp_path, ISLANDS)), "--out", str(out),
                                "--no-plots"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=ENV,
                               start_new_session=True)
    try:
        island_workers_ready(process, 2)
        os.killpg(process.pid, signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if not group_gone(process.pid):  # a failed test leaves nothing running
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr
    if signum == signal.SIGINT:  # the workers ignore it: the round ends and is kept
        assert f"interrupted by {signal.Signals(signum).name} after" in stderr
    if (out / "result.json").exists():  # SIGTERM ends workers: kept unless none had ended
        result = json.loads((out / "result.json").read_text())
        assert result["interrupted"] is True
        assert len(result["history"]["best"]) >= 1
    else:
        assert signum == signal.SIGTERM
        assert "before the first generation; nothing was written" in stderr
    assert no_staging_left(tmp_path)
    deadline = time.monotonic() + 60  # a bound, not a measurement: workers end on their own
    while not group_gone(process.pid):
        assert time.monotonic() < deadline, "worker processes outlived the run"
        time.sleep(0.05)


def test_workers_lost_to_the_interrupt_end_the_run_with_what_it_computed() -> None:
    from concurrent.futures.process import BrokenProcessPool

    from engine.headless.evolve import _until_workers_lost

    def records(count: int):
        yield from range(count)
        raise BrokenProcessPool("a worker was killed")

    lost: list[BaseException] = []
    assert list(_until_workers_lost(records(3), lambda: True, lost)) == [0, 1, 2]
    assert len(lost) == 1  # the run reads as interrupted
    with pytest.raises(BrokenProcessPool):  # not interrupted: a failure, said as such
        list(_until_workers_lost(records(3), lambda: False, []))
    with pytest.raises(BrokenProcessPool):  # nothing computed: nothing to keep
        list(_until_workers_lost(records(0), lambda: True, []))


# -- 6. strict validation --------------------------------------------------------------------

INVALID = {
    "string for an int": (changed(SEED, network__input_size="1"), "network.input_size"),
    "bool for an int": (changed(SEED, network__input_size=True), "network.input_size"),
    "string seed": (changed(SEED, seed="1"), "seed"),
    "string lr": (changed(SEED, task={"kind": "train", "lr": "0.1"}), "task.lr"),
    "bool weight": (changed(SEED, network__layers__0__weight=[[True]]),
                    "network.layers.0.weight"),
    "infinite lr": (changed(SEED, task={"kind": "train", "lr": math.inf}), "task.lr"),
    "infinite eps": (changed(SEED, network__layers__1={"type": "norm", "kind": "layer",
                                                       "eps": math.inf}),
                     "network.layers.1.eps"),
    "NaN scale": (changed(SEED, task={"kind": "evolve", "scales": math.nan}), "task.scales"),
    "zero scale": (changed(SEED, task={"kind": "evolve", "scales": 0}), "task.scales"),
    "negative scales": (changed(SEED, task={"kind": "evolve", "scales": [1.0, -1.0]}),
                        "task.scales"),
    "NaN target": (changed(SEED, data={"inputs": [[1.0]], "targets": [math.nan]}),
                   "data.targets"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_values_are_refused(tmp_path: Path, case: str) -> None:
    session, field = INVALID[case]
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, f": {field}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity"])
def test_csv_cells_must_be_finite(tmp_path: Path, cell: str) -> None:
    (tmp_path / "d.csv").write_text(f"x,y\n1,0.5\n{cell},0.25\n")
    session = changed(SEED, data={"dataset": "csv", "path": "d.csv"})
    status, stderr = in_process(write(tmp_path, session), tmp_path / "out")
    one_line_refusal(status, stderr, "line 3, column 1", "not a finite number")


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaves(v, (*path, i))]
    return [path]


BAD_VALUES = st.one_of(st.text(max_size=5), st.booleans(), st.none(),
                       st.just(math.nan), st.just(math.inf), st.integers(-10**30, 10**30),
                       st.floats(allow_nan=False, allow_infinity=False), st.just([]),
                       st.just({"x": 1}), st.just([[[]]]))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mutated_session_runs_or_is_refused_in_one_line(tmp_path: Path,
                                                            data: st.DataObject) -> None:
    base = data.draw(st.sampled_from([SEED, changed(SPIRAL, task__steps=3,
                                                    data__samples=40)]))
    session = copy.deepcopy(base)
    path = data.draw(st.sampled_from(leaves(session)))
    target = session
    for key in path[:-1]:
        target = target[key]
    original, bad = target[path[-1]], data.draw(BAD_VALUES)
    target[path[-1]] = bad
    out = tmp_path / f"out-{abs(hash(json.dumps(session, default=str))) % 10**9}"
    status, stderr = in_process(write(tmp_path, json.dumps(session)), out)
    # a number replaced by anything but a finite number is invalid by the schema
    must_refuse = is_number(original) and not (is_number(bad) and math.isfinite(bad))
    if status == 0 and not must_refuse:
        assert (out / "result.json").exists()
    else:
        one_line_refusal(status, stderr)
        assert not out.exists()
    assert no_staging_left(tmp_path)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- 7. the command line ----------------------------------------------------------------------

def test_out_is_checked_before_anything_else(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    bad_session = write(tmp_path, "{not json")  # would be refused too, later
    result = run(bad_session, blocker)
    one_line_refusal(result.returncode, result.stderr, "--out:", "exists and is not a folder")
    assert blocker.read_text() == "a file"


def test_empty_out_and_argument_errors_are_one_line(tmp_path: Path) -> None:
    session = write(tmp_path, SEED)
    result = run(session, "")
    one_line_refusal(result.returncode, result.stderr, "--out: the path is empty")
    missing = subprocess.run([sys.executable, str(ROOT / "main.py"), "run", str(session)],
                             capture_output=True, text=True, env=ENV)
    one_line_refusal(missing.returncode, missing.stderr, "--out")
    result = run(session, tmp_path / "o", "--max-memory", "lots")
    one_line_refusal(result.returncode, result.stderr, "--max-memory", "not a size")


def test_a_fifo_as_the_session_does_not_block(tmp_path: Path) -> None:
    pipe = tmp_path / "session.json"
    os.mkfifo(pipe)
    result = run(pipe, tmp_path / "out", timeout=60)
    one_line_refusal(result.returncode, result.stderr, "FIFO", "not a regular file")


def test_a_run_that_blows_up_prints_no_warnings(tmp_path: Path) -> None:
    """Its plots hold NaN and Infinity; drawing them used to print pyqtgraph warnings."""
    session = changed(SPIRAL, task__lr=1e6, task__steps=50, loss="mse", data__samples=64)
    result = run(write(tmp_path, session), tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"wrote 7 files to {tmp_path / 'out'}"]
    assert "NaN/Inf" in json.loads((tmp_path / "out" / "result.json").read_text())[
        "training_stopped"]


def test_a_second_interrupt_while_qt_loads_aborts_cleanly(tmp_path: Path) -> None:
    """A KeyboardInterrupt inside PySide6's import killed the interpreter (exit 134,
    staging left behind): the abort waits until the import is done."""
    out = tmp_path / "out"
    import_finished = []

    def renderer() -> Any:
        os.kill(os.getpid(), signal.SIGINT)  # the first: stop after the current step
        os.kill(os.getpid(), signal.SIGINT)  # the second, "during the import"
        import_finished.append(True)  # the import was not cut in the middle
        return lambda plot, path: path.write_bytes(b"png")

    stderr = io.StringIO()
    status = run_command(write(tmp_path, SEED), RunOptions(out=str(out),
                                                           make_renderer=renderer,
                                                           quiet=True), stderr)
    assert import_finished
    assert status == 130
    assert "nothing was written" in stderr.getvalue()
    assert not out.exists()
    assert no_staging_left(tmp_path)


def test_interrupts_during_the_swap_leave_a_whole_folder(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two interrupts while the finished result is being swapped in: the swap completes
    (half a swap would lose the old folder), nothing is left beside it, and the run says
    it was interrupted and what it wrote."""
    out = tmp_path / "out"
    assert in_process(write(tmp_path, SEED), out)[0] == 0
    real_replace = os.replace

    def replace_while_interrupted(source: Any, target: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace_while_interrupted)
    status, stderr = in_process(write(tmp_path, SEED), out)
    monkeypatch.setattr(os, "replace", real_replace)
    assert status == 130, stderr
    assert "nothing was written" not in stderr
    assert json.loads((out / "result.json").read_text())["format"] == "chainlab-result/1"
    assert no_staging_left(tmp_path)


def test_the_output_folder_has_a_normal_folders_mode(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        assert in_process(write(tmp_path, SEED), tmp_path / "out")[0] == 0
    finally:
        os.umask(previous)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
