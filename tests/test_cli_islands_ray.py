"""``main.py run --ray``: an island evolution's islands as Ray actors, from the command
line. The same seed gives the history of a run without Ray; sessions with nothing to
place on Ray, and clusters that cannot be reached, are refused in one line."""

from __future__ import annotations

import copy
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import run_cli
from tests.test_cli_evolve import SESSION

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray>=2.40')")

ISLANDS = copy.deepcopy(SESSION)
ISLANDS["task"].update(population=12, generations=5, islands=2,
                       migration={"every": 2, "count": 1})
TIMING = ("seconds",)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """One local Ray instance for the module; the commands join it by its address."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def without_timing(result: dict[str, Any]) -> dict[str, Any]:
    """The result but for wall times and where the islands ran."""
    kept = {k: v for k, v in result.items() if k not in ("workers", "islands_on")}
    kept["history"] = {k: v for k, v in result["history"].items() if k not in TIMING}
    return kept


def island_actors() -> int:
    """Island actors the cluster has held, alive or not (from its control store)."""
    from ray._private import state

    return sum(actor["ActorClassName"] == "_IslandActor" for actor in state.actors().values())


def test_islands_on_ray_give_the_local_result(cluster: str, tmp_path: Path) -> None:
    for where in ("ray", "here"):
        (tmp_path / where).mkdir()
    actors_before = island_actors()
    on_ray = run_cli(tmp_path / "ray", ISLANDS, "--ray", cluster, "--no-plots")
    assert on_ray.returncode == 0, on_ray.stderr
    assert on_ray.stderr.strip().splitlines() == [f"wrote 2 files to {tmp_path / 'ray' / 'out'}"]
    assert island_actors() == actors_before + 2  # one actor per island ran there
    here = run_cli(tmp_path / "here", ISLANDS, "--no-plots")
    assert here.returncode == 0, here.stderr
    assert island_actors() == actors_before + 2
    ray_result = json.loads((tmp_path / "ray" / "out" / "result.json").read_text())
    local_result = json.loads((tmp_path / "here" / "out" / "result.json").read_text())
    assert ray_result["islands_on"] == "ray actors"
    assert local_result["islands_on"] == "this process"
    assert len(ray_result["history"]["islands"]) == 2
    assert without_timing(ray_result) == without_timing(local_result)


@pytest.mark.parametrize("task", [{"kind": "train"}, {"islands": 1}])
def test_ray_with_nothing_to_place_is_refused(tmp_path: Path, task: dict[str, Any]) -> None:
    session = copy.deepcopy(ISLANDS)
    session["task"] = {"kind": "train", "steps": 3} if task.get("kind") else {
        **session["task"], **task}
    result = run_cli(tmp_path, session, "--ray", "auto")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--ray: runs an island evolution's islands" in lines[0]
    assert not (tmp_path / "out").exists()


def test_an_unreachable_cluster_is_refused(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli(tmp_path, ISLANDS, "--ray", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'session.json'}: --ray: cannot reach a Ray cluster at "
        f"127.0.0.1:{port}: Connection refused"]
    assert not (tmp_path / "out").exists()


def test_a_port_that_answers_but_is_not_ray_is_refused(tmp_path: Path) -> None:
    with socket.socket() as server:  # answers, in HTTP/1, as a web server would
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        answering = threading.Thread(target=answer_in_http1, args=(server,), daemon=True)
        answering.start()
        result = run_cli(tmp_path, ISLANDS, "--ray", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'session.json'}: --ray: 127.0.0.1:{port} answers but is not a "
        "Ray cluster (it does not speak gRPC); give the address `ray start --head` printed"]
    assert not (tmp_path / "out").exists()


def answer_in_http1(server: socket.socket) -> None:
    connection, _ = server.accept()
    with connection:
        connection.recv(1024)
        connection.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
