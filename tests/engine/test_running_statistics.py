"""Batch norm's running statistics are part of the chain's state: they move only when a
training step commits them, as torch.nn.BatchNorm1d's do, and survive saving, reopening,
the headless result and the PyTorch export (issue 8: they were lost, 0.31 and 0.50 off)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.optim import SGDConfig
from engine.core.specs import NetworkSpec, repeated_block
from engine.core.stepper import Pass
from engine.core.torch_export import python_source, to_torch_sequential
from engine.core.training import Trainer
from engine.data.experiment import build_experiment, make_trainer
from engine.data.session import GeneratedData, Session, parse_session, session_json
from engine.data.tasks import TrainTask
from engine.headless.runner import run_session
from tests.engine.helpers import assert_close, torch_loss, torch_twin


def trained_chain(steps: int = 20) -> tuple[Chain, torch.Tensor]:
    spec = repeated_block(2, 6, 2, "tanh", norm="batch", output_size=1)
    chain = Chain(spec, "float64", torch.Generator().manual_seed(4))
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(48, 2)) * 3 + 1, dtype=torch.float64)
    y = torch.tensor(rng.normal(size=(48, 1)), dtype=torch.float64)
    trainer = Trainer(chain, x, y, "mse", SGDConfig(lr=0.1, momentum=0.9), 16,
                      torch.Generator().manual_seed(2))
    list(trainer.steps(steps))
    return chain, x


def test_training_moves_running_statistics_as_torch_does() -> None:
    spec = repeated_block(2, 6, 2, "tanh", norm="batch", output_size=1)
    chain = Chain(spec, "float64", torch.Generator().manual_seed(4))
    model = torch_twin(chain)
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(48, 2)) * 3 + 1, dtype=torch.float64)
    y = torch.tensor(rng.normal(size=(48, 1)), dtype=torch.float64)
    trainer = Trainer(chain, x, y, "mse", SGDConfig(lr=0.1), 0, torch.Generator())
    reference = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):
        trainer.step()
        reference.zero_grad()
        torch_loss("mse", model(x), y).backward()
        reference.step()
    buffers = dict(model.named_buffers())
    for name, ours in chain.buffers():
        assert_close(ours, buffers[name], chain.dtype, name)
    model.eval()
    assert_close(chain.infer(x), model(x).detach(), chain.dtype, "eval outputs")


def test_a_pass_made_to_look_changes_no_running_statistic() -> None:
    chain, x = trained_chain()
    before = [t.clone() for _, t in chain.buffers()]
    for _ in range(3):
        Pass(chain, x, torch.zeros(len(x), 1, dtype=torch.float64), "mse").run()
    assert all(torch.equal(a, b) for a, (_, b) in zip(before, chain.buffers(), strict=True))


def test_saved_and_reopened_chain_evaluates_the_same() -> None:
    chain, x = trained_chain()
    assert not torch.equal(chain.buffers()[0][1], torch.zeros(6))  # training moved them
    session = Session(format="chainlab/1", dtype="float64", network=chain.to_spec(),
                      data=GeneratedData(dataset="xor"), loss="mse")
    text = session_json(session)
    assert '"running_mean"' in text
    assert '"running_var"' in text
    reopened = Chain(parse_session(text).network, "float64", torch.Generator().manual_seed(9))
    assert_close(reopened.infer(x), chain.infer(x), torch.float64, "eval outputs")
    np.testing.assert_allclose(reopened.infer(x).numpy(), chain.infer(x).numpy(),
                               rtol=0, atol=1e-12)


def test_exported_pytorch_code_keeps_the_running_statistics(tmp_path: Path) -> None:
    chain, x = trained_chain()
    namespace: dict[str, object] = {}
    exec(compile(python_source(chain), "chain.py", "exec"), namespace)
    build_model = namespace["build_model"]
    assert callable(build_model)
    model = build_model()
    assert not model.training  # batch norm on its running statistics, as Chain Lab
    with torch.no_grad():
        exported = model(x)
    np.testing.assert_allclose(exported.numpy(), chain.infer(x).numpy(), rtol=0, atol=1e-12)
    live = to_torch_sequential(chain).eval()
    with torch.no_grad():
        np.testing.assert_allclose(live(x).numpy(), chain.infer(x).numpy(), rtol=0, atol=1e-12)


def test_headless_result_network_reproduces_the_trained_chain() -> None:
    spec = repeated_block(2, 8, 2, "tanh", norm="batch", output_size=1)
    session = Session(format="chainlab/1", dtype="float64", network=spec,
                      data=GeneratedData(dataset="circle", samples=120),
                      loss="bce_with_logits",
                      task={"kind": "train", "lr": 0.1, "steps": 30, "batch_size": 32})
    output = run_session(session)
    assert all(layer.get("running_mean") for layer in output.result["network"]["layers"]
               if layer["type"] == "norm")
    # the same training, done here from the same pieces
    experiment = build_experiment(session)
    task = session.task
    assert isinstance(task, TrainTask)
    trainer = make_trainer(experiment.chain, experiment.inputs, experiment.targets,
                           session.loss, task, session.seed)
    list(trainer.steps(task.steps))
    rebuilt = Chain(NetworkSpec.model_validate(output.result["network"]), "float64",
                    torch.Generator())
    grid = torch.linspace(-6, 6, 50, dtype=torch.float64).reshape(25, 2)
    np.testing.assert_allclose(rebuilt.infer(grid).numpy(),
                               experiment.chain.infer(grid).numpy(), rtol=0, atol=1e-12)


def test_running_statistics_only_for_batch_norm() -> None:
    from engine.core.chain import SpecError

    spec = NetworkSpec.model_validate({"input_size": 2, "layers": [
        {"type": "norm", "kind": "layer", "running_mean": [0.0, 0.0]}]})
    with pytest.raises(SpecError, match=r"layers\.0\.running_mean: layer norm has no running"):
        Chain(spec, "float32", torch.Generator())
