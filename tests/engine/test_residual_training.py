"""Residual chains train, export, save and reopen: against torch.optim.SGD and a torch twin."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.optim import SGDConfig
from engine.core.precision import Precision, Storage
from engine.core.specs import NetworkSpec, repeated_block
from engine.core.stepper import Pass
from engine.core.torch_export import python_source, to_torch_sequential
from engine.core.training import Trainer
from engine.data.session import InlineData, Session, parse_session, session_json
from tests.engine.helpers import assert_close, random_residual_spec, torch_loss, torch_twin

CONFIGS = [SGDConfig(lr=0.05), SGDConfig(lr=0.02, momentum=0.9, nesterov=True,
                                         weight_decay=0.001)]


def residual_spec(norm: str | None, placement: str = "pre", depth: int = 2) -> NetworkSpec:
    return repeated_block(3, 5, depth, "tanh", norm=norm, output_size=2, residual=True,
                          norm_placement="post" if placement == "post" else "pre")


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("norm", "placement"), [(None, "pre"), ("batch", "pre"),
                                                 ("batch", "post"), ("layer", "pre"),
                                                 ("rms", "post")])
def test_training_matches_torch_sgd(config: SGDConfig, dtype: str, norm: str | None,
                                    placement: str) -> None:
    chain = Chain(residual_spec(norm, placement), dtype, torch.Generator().manual_seed(3))
    model = torch_twin(chain).train()
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(40, 3)), dtype=chain.dtype)
    y = torch.tensor(rng.normal(size=(40, 2)), dtype=chain.dtype)
    trainer = Trainer(chain, x, y, "mse", config, batch_size=16,
                      generator=torch.Generator().manual_seed(11))
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=config.nesterov)
    order_source = torch.Generator().manual_seed(11)
    order: list[torch.Tensor] = []
    for step in trainer.steps(12):
        if not order:
            order = list(torch.randperm(40, generator=order_source).split(16))
        rows = order.pop(0)
        optimizer.zero_grad()
        reference = torch_loss("mse", model(x[rows]), y[rows])
        reference.backward()
        optimizer.step()
        assert_close(step.loss, reference.detach(), chain.dtype, f"loss at step {step.step}")
        # one entry per linear layer, the blocks' included: projection, 2 blocks, output
        assert len(step.update_ratios) == len(step.weight_norms) == 4
    for (name, ours), (their_name, theirs) in zip(chain.parameters(), model.named_parameters(),
                                                  strict=True):
        assert name == their_name
        assert_close(ours, theirs.detach(), chain.dtype, f"parameter {name} after 12 steps")
    buffers = dict(model.named_buffers())
    for name, ours in chain.buffers():
        assert_close(ours, buffers[name], chain.dtype, f"buffer {name} after 12 steps")


def test_weight_norms_cover_the_linear_layers_inside_blocks() -> None:
    chain = Chain(residual_spec("layer"), "float64", torch.Generator().manual_seed(0))
    x = torch.randn(10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    trainer = Trainer(chain, x, x[:, :2], "mse", SGDConfig(lr=0.1), 0, torch.Generator())
    step = trainer.step()
    weights = [chain.parameters()[k][1] for k, (name, _) in enumerate(chain.parameters())
               if name.endswith("weight") and name.count(".") in (1, 3)
               and "body.0." not in name]  # body.0 is the pre-norm's weight
    assert step.weight_norms == pytest.approx([float(w.norm()) for w in weights], rel=1e-12)
    assert [n for n, _ in chain.linear_layers()] == ["0", "1.body.1", "2.body.1", "3"]


@pytest.mark.parametrize("storage", ["bfloat16", "float16"])
def test_low_precision_storage_rounds_and_counts_the_blocks_weights(storage: str) -> None:
    from engine.numbers.rounding import round_nearest

    chain = Chain(residual_spec("batch"), "float32", torch.Generator().manual_seed(0))
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(1))
    trainer = Trainer(chain, x, x[:, :2], "mse", SGDConfig(lr=0.01), 0, torch.Generator(),
                      storage=Storage(Precision(storage), torch.Generator()))
    for _ in range(3):
        step = trainer.step()
    assert len(step.swamped) == 4
    assert all(0.0 <= share <= 1.0 for share in step.swamped)
    for name, tensor in chain.parameters():  # every parameter is held in the format
        assert torch.equal(round_nearest(tensor, storage), tensor), name


def test_the_exported_script_rebuilds_the_chain_with_torch_names() -> None:
    rng = np.random.default_rng(4)
    for seed in range(6):
        chain = Chain(random_residual_spec(rng, 4), "float64",
                      torch.Generator().manual_seed(seed))
        x = torch.randn(5, chain.input_size, dtype=torch.float64)
        namespace: dict[str, object] = {}
        exec(compile(python_source(chain), "chain.py", "exec"), namespace)
        build_model = namespace["build_model"]
        assert callable(build_model)
        model = build_model()
        assert [n for n, _ in model.named_parameters()] == [n for n, _ in chain.parameters()]
        twin = torch_twin(chain).eval()
        with torch.no_grad():
            np.testing.assert_allclose(model(x).numpy(), chain.infer(x).numpy(), rtol=0,
                                       atol=1e-12)
            np.testing.assert_allclose(model(x).numpy(), twin(x).numpy(), rtol=0, atol=1e-12)
            live = to_torch_sequential(chain).eval()
            np.testing.assert_allclose(live(x).numpy(), twin(x).numpy(), rtol=0, atol=1e-12)


def test_a_trained_chain_saves_and_reopens_with_its_block_parameters() -> None:
    spec = residual_spec("batch", "pre")
    chain = Chain(spec, "float64", torch.Generator().manual_seed(0))
    x = torch.randn(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for _ in Trainer(chain, x, x[:, :2], "mse", SGDConfig(lr=0.1), 8,
                     torch.Generator().manual_seed(2)).steps(5):
        pass
    session = Session(format="chainlab/1", dtype="float64", network=chain.to_spec(),
                      data=InlineData(inputs=x.tolist(), targets=x[:, 0].tolist()))
    text = session_json(session)
    block = json.loads(text)["network"]["layers"][1]
    assert block["type"] == "residual"
    assert len(block["layers"][0]["running_mean"]) == 5  # the pre-norm's statistics
    assert len(block["layers"][1]["weight"]) == 5
    reopened = Chain(parse_session(text).network, "float64", torch.Generator().manual_seed(9))
    for (name, ours), (their_name, theirs) in zip(
            chain.parameters() + chain.buffers(), reopened.parameters() + reopened.buffers(),
            strict=True):
        assert name == their_name
        assert torch.equal(ours, theirs), name
    assert torch.equal(reopened.infer(x), chain.infer(x))
    assert not chain.to_spec().without_parameters().has_parameters()
    assert chain.to_spec().has_parameters()


def test_linear_output_norms_cover_the_linear_layers_inside_blocks() -> None:
    chain = Chain(residual_spec("batch", "pre"), "float64", torch.Generator().manual_seed(0))
    model = torch_twin(chain).train()
    outputs: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            module.register_forward_hook(
                lambda _m, _i, out, name=name: outputs.__setitem__(name, out.detach()))
    x = torch.randn(10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    model(x)
    trainer = Trainer(chain, x, x[:, :2], "mse", SGDConfig(lr=0.1), 0, torch.Generator())
    step = trainer.step()
    assert list(outputs) == [p for p, _ in chain.linear_layers()]
    assert step.linear_output_norms == pytest.approx(
        [float(t.norm()) for t in outputs.values()], rel=1e-12)
    pass_ = Pass(chain, x, x[:, :2], "mse")
    pass_.step_forward()
    pass_.step_forward()
    reached = [t is not None for t in pass_.linear_outputs()]
    assert reached == [True, True, False, False]
