"""SGD and minibatch training agree with torch.optim.SGD step for step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.optim import SGDConfig
from engine.core.specs import repeated_block
from engine.core.training import Trainer
from tests.engine.helpers import assert_close, torch_loss, torch_twin

CONFIGS = [
    SGDConfig(lr=0.1),
    SGDConfig(lr=0.05, momentum=0.9),
    SGDConfig(lr=0.05, momentum=0.5, weight_decay=0.01),
    SGDConfig(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.001),
]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm", [None, "batch", "layer", "rms"])
def test_training_matches_torch_sgd(config: SGDConfig, dtype: str, norm: str | None) -> None:
    spec = repeated_block(3, 6, 2, "tanh", norm=norm, output_size=2)
    chain = Chain(spec, dtype, torch.Generator().manual_seed(3))
    model = torch_twin(chain)
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
    for (name, ours), theirs in zip(chain.parameters(), model.parameters(), strict=True):
        assert_close(ours, theirs.detach(), chain.dtype, f"parameter {name} after 12 steps")


def test_learning_rate_change_takes_effect_without_reset() -> None:
    """The changed rate is the one applied (checked against torch.optim.SGD with its
    param_groups' lr changed the same way), not only the one recorded."""
    chain = Chain(repeated_block(1, 4, 1, "tanh"), "float64", torch.Generator().manual_seed(0))
    x = torch.linspace(-1, 1, 8, dtype=torch.float64).reshape(8, 1)
    model = torch_twin(chain)
    trainer = Trainer(chain, x, x.clone(), "mse", SGDConfig(lr=0.1, momentum=0.9), 0,
                      torch.Generator().manual_seed(0))
    reference = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for lr in (0.1, 0.5, 0.02, 0.5):
        trainer.optimizer.config = SGDConfig(lr=lr, momentum=0.9)
        for group in reference.param_groups:
            group["lr"] = lr
        record = trainer.step()
        reference.zero_grad()
        torch_loss("mse", model(x), x).backward()
        reference.step()
        assert record.lr == lr
        for (name, ours), theirs in zip(chain.parameters(), model.parameters(), strict=True):
            assert_close(ours, theirs.detach(), chain.dtype, f"{name} after lr {lr}")


def test_seeded_training_repeats_exactly() -> None:
    def run() -> list[float]:
        chain = Chain(repeated_block(2, 8, 2, "relu"), "float32", torch.Generator().manual_seed(5))
        x = torch.randn(30, 2, generator=torch.Generator().manual_seed(1))
        trainer = Trainer(chain, x, x[:, :1].clone(), "mse", SGDConfig(lr=0.05, momentum=0.9),
                          8, torch.Generator().manual_seed(2))
        return [s.loss for s in trainer.steps(20)]

    assert run() == run()


def test_exploding_training_stops_and_says_where() -> None:
    chain = Chain(repeated_block(1, 8, 3, "identity", init=None), "float32",
                  torch.Generator().manual_seed(0))
    x = torch.full((4, 1), 1e3)
    trainer = Trainer(chain, x, x.clone(), "mse", SGDConfig(lr=1e6), 0,
                      torch.Generator().manual_seed(0))
    steps = list(trainer.steps(50))
    assert len(steps) < 50
    assert steps[-1].nonfinite is not None
    assert all(s.nonfinite is None for s in steps[:-1])
    assert all(np.isfinite(t.numpy()).all() for _, t in chain.parameters())
