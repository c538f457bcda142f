"""``main.py run``: the result contract, and one clear line plus exit 2 for bad input."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SEED = json.loads((ROOT / "examples" / "seed.json").read_text())


def run_cli(tmp_path: Path, session: Any, *extra: str, raw: str | None = None,
            out: Path | None = None) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "session.json"
    path.write_text(raw if raw is not None else json.dumps(session))
    out = out or tmp_path / "out"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "run", str(path), "--out",
                           str(out), *extra], capture_output=True, text=True, env=env,
                          timeout=120)


def test_help_lists_every_subcommand() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"],
                            capture_output=True, text=True, check=True)
    for word in ("run SESSION.json --out DIR", "schema", "--screenshot"):
        assert word in result.stdout


def test_step_session_writes_the_contract(tmp_path: Path) -> None:
    result = run_cli(tmp_path, SEED)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert {"result.json", "layers.csv", "gradient_flow.png"} <= {p.name for p in out.iterdir()}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    data = json.loads((out / "result.json").read_text())
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Tanh(), torch.nn.Linear(1, 1),
                                torch.nn.Tanh()).double()
    with torch.no_grad():
        for index in (0, 2):
            model[index].weight.fill_(0.3)
            model[index].bias.fill_(0.3)
    hidden = []
    h = torch.tensor([[10.0]], dtype=torch.float64)
    for module in model:
        h = module(h)
        h.retain_grad()
        hidden.append(h)
    loss = torch.nn.functional.mse_loss(h, torch.tensor([[0.5]], dtype=torch.float64))
    loss.backward()
    assert data["loss"] == pytest.approx(loss.item(), rel=1e-12)
    assert [layer["type"] for layer in data["layers"]] == ["linear", "activation"] * 2
    for layer, reference in zip(data["layers"], hidden, strict=True):
        assert layer["output"][0][0] == pytest.approx(reference.item(), rel=1e-12)
        assert layer["grad_output"][0][0] == pytest.approx(reference.grad.item(), rel=1e-9)
        assert "stats" in layer
    assert data["layers"][0]["grad_weight"][0][0] == pytest.approx(model[0].weight.grad.item(),
                                                                   rel=1e-9)
    assert data["layers"][2]["grad_bias"][0] == pytest.approx(model[2].bias.grad.item(), rel=1e-9)


def test_train_session_history_and_network(tmp_path: Path) -> None:
    session = copy.deepcopy(SEED)
    session["data"] = {"inputs": [[0.5], [-1.0], [2.0]], "targets": [0.1, -0.2, 0.4]}
    session["task"] = {"kind": "train", "optimizer": "sgd", "lr": 0.5, "momentum": 0.9,
                       "weight_decay": 0.01, "steps": 25, "batch_size": 0}
    result = run_cli(tmp_path, session, "--no-plots")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    assert (tmp_path / "out" / "history.csv").read_text().startswith("step,loss")
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Tanh(), torch.nn.Linear(1, 1),
                                torch.nn.Tanh()).double()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.01)
    x = torch.tensor(session["data"]["inputs"], dtype=torch.float64)
    y = torch.tensor(session["data"]["targets"], dtype=torch.float64).reshape(3, 1)
    expected = []
    for _ in range(25):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        expected.append(loss.item())
        loss.backward()
        optimizer.step()
    assert data["history"]["loss"] == pytest.approx(expected, rel=1e-10)
    layers = data["network"]["layers"]
    assert layers[0]["weight"][0][0] == pytest.approx(model[0].weight.item(), rel=1e-10)
    assert layers[2]["bias"][0] == pytest.approx(model[2].bias.item(), rel=1e-10)
    assert data["network"]["input_size"] == 1


def with_changes(**changes: Any) -> dict[str, Any]:
    session = copy.deepcopy(SEED)
    for dotted, value in changes.items():
        target = session
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is ...:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return session


BAD_SESSIONS = {
    "missing field": (with_changes(network=...), "network: required field is missing"),
    "wrong weight shape": (with_changes(network__layers__0__weight=[[0.3, 0.1]]),
                           "network.layers.0.weight: expected shape [1, 1]"),
    "unknown layer": (with_changes(network__layers__1={"type": "conv"}), "network.layers.1"),
    "unknown activation": (with_changes(network__layers__1={"type": "activation",
                                                            "kind": "swish"}),
                           "network.layers.1.kind"),
    "unknown loss": (with_changes(loss="hinge"), "loss: Input should be"),
    "empty dataset": (with_changes(data={"inputs": [], "targets": []}), "data.inputs"),
    "negative size": (with_changes(network__layers__0__out_features=-2),
                      "network.layers.0.out_features"),
    "negative samples": (with_changes(data={"dataset": "sin", "samples": -5}), "data.samples"),
    "inputs of wrong width": (with_changes(data={"inputs": [[1, 2]], "targets": [0]}),
                              "data.inputs.0: expected 1 value"),
    "wrong format": (with_changes(format="chainlab/9"), "format: expected \"chainlab/1\""),
    "negative lr": (with_changes(task={"kind": "train", "lr": -1, "steps": 3}), "task.lr"),
    "bad task": (with_changes(task={"kind": "dance"}), "task"),
}


@pytest.mark.parametrize("case", sorted(BAD_SESSIONS))
def test_bad_session_is_one_clear_line(tmp_path: Path, case: str) -> None:
    session, expected = BAD_SESSIONS[case]
    result = run_cli(tmp_path, session)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert not (tmp_path / "out").exists()


def test_invalid_json(tmp_path: Path) -> None:
    result = run_cli(tmp_path, None, raw='{"format": "chainlab/1",\n "seed": }')
    assert result.returncode == 2
    assert "invalid JSON at line 2" in result.stderr


def test_missing_session_file(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "run",
                             str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "cannot read" in result.stderr


READ_ONLY_MOUNT = ('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" '
                   '&& exec "$@"')


def read_only_prefix(folder: Path) -> list[str]:
    """A command prefix under which ``folder`` cannot be written, even by root.

    CI runs as root, which a mode of 0500 does not stop: there the command runs in a
    private mount namespace where ``folder`` is bind-mounted read-only.
    """
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return []
    prefix = [shutil.which("unshare") or "unshare", "-m", "sh", "-c", READ_ONLY_MOUNT,
              str(folder)]
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True)
    except OSError:
        pytest.skip("root, and no unshare to mount the folder read-only")
    if probe.returncode != 0:
        pytest.skip(f"root, and no read-only mount possible here: {probe.stderr!r}")
    return prefix


def test_unwritable_out_dir(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    prefix = read_only_prefix(locked)
    path = tmp_path / "session.json"
    path.write_text(json.dumps(SEED))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([*prefix, sys.executable, str(ROOT / "main.py"), "run", str(path),
                             "--out", str(locked / "out")], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "--out: cannot write" in result.stderr
    assert result.stderr.count("\n") == 1
    assert list(locked.iterdir()) == []


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli(tmp_path, SEED, out=blocker / "out")
    assert result.returncode == 2
    assert "--out: cannot write" in result.stderr
    assert blocker.read_text() == "not a folder"


def test_csv_session_and_its_errors(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("x,y\n0,0.1\n1,0.3\n2,0.5\n")
    session = copy.deepcopy(SEED)
    session["data"] = {"dataset": "csv", "path": "data.csv", "target_column": "y"}
    result = run_cli(tmp_path, session, "--no-plots")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    assert len(data["layers"][0]["output"]) == 3
    (tmp_path / "data.csv").write_text("x,y\n0,0.1\n1,zero\n")
    result = run_cli(tmp_path, session, out=tmp_path / "out2")
    assert result.returncode == 2
    assert "line 3, column 2: 'zero' is not a number" in result.stderr
    (tmp_path / "data.csv").write_text("a,b,y\n0,0,0.1\n")
    result = run_cli(tmp_path, session, out=tmp_path / "out3")
    assert result.returncode == 2
    assert "network.input_size: the data has 2 input column(s)" in result.stderr


def test_published_schema_is_the_current_one() -> None:
    """docs/session.schema.json follows the code (regenerate: ./run-app schema)."""
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "schema"],
                            capture_output=True, text=True, check=True)
    published = json.loads((ROOT / "docs" / "session.schema.json").read_text())
    assert json.loads(result.stdout) == published
