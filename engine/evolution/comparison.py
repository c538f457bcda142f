"""What the GA is compared with: SGD on the same network and data, and the error of
quantising a float network onto the GA's 4-bit grid."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from engine.core.chain import Chain
from engine.core.optim import SGDConfig
from engine.core.stepper import Pass
from engine.core.training import Trainer
from engine.evolution.genome import chain_genome, load_genome


@dataclass(frozen=True)
class SgdPoint:
    forward_passes: int  # full-batch forward passes so far (one per step)
    seconds: float  # wall time since the run started, backward passes included
    loss: float  # before this step's update


def sgd_curve(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
              config: SGDConfig, seconds: float, max_steps: int = 1_000_000,
              seed: int = 0) -> Iterator[SgdPoint]:
    """Full-batch SGD on ``chain`` (changed in place) for ``seconds`` of wall time.

    Each step costs a forward and a backward pass; it is counted as one forward pass, and
    the wall time shows the whole cost.
    """
    trainer = Trainer(chain, inputs, targets, loss, config, 0,
                      torch.Generator().manual_seed(seed))
    started = time.perf_counter()
    for record in trainer.steps(max_steps):
        elapsed = time.perf_counter() - started
        yield SgdPoint(record.step, elapsed, record.loss)
        if elapsed >= seconds or record.nonfinite is not None:
            return


@dataclass(frozen=True)
class QuantisationReport:
    relative_error: float  # ‖W − Q(W)‖ / ‖W‖ over every linear parameter
    float_loss: float
    quantised_loss: float


def quantisation_report(chain: Chain, scales: list[float], inputs: torch.Tensor,
                        targets: torch.Tensor, loss: str) -> QuantisationReport:
    """How far the chain's parameters move when snapped to the 4-bit grid, and what that
    does to the loss. Works on copies: ``chain`` is not touched (its batch-norm running
    statistics included)."""
    float_loss = _loss(chain.copy(), inputs, targets, loss)
    quantised = chain.copy()
    load_genome(quantised, chain_genome(chain, scales), scales)
    quantised_loss = _loss(quantised, inputs, targets, loss)
    before, after = _linear_parameters(chain), _linear_parameters(quantised)
    norm = float(torch.linalg.vector_norm(before))
    error = float(torch.linalg.vector_norm(before - after))
    return QuantisationReport(error / norm if norm > 0 else 0.0, float_loss, quantised_loss)


def _loss(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str) -> float:
    value = Pass(chain, inputs, targets, loss).run().loss
    assert value is not None
    return float(value)


def _linear_parameters(chain: Chain) -> torch.Tensor:
    return torch.cat([layer.params[name].reshape(-1) for _, layer in chain.linear_layers()
                      for name in ("weight", "bias")])
