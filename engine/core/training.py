"""Minibatch SGD training as a generator: one immutable :class:`TrainStep` per step.

The generator knows nothing of threads; the GUI worker and the headless runner iterate
the same one. The learning rate may be changed between steps through ``trainer.optimizer``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from engine.core.chain import Chain
from engine.core.layers import Linear
from engine.core.optim import SGD, SGDConfig
from engine.core.stats import update_to_data_ratio
from engine.core.stepper import NonFinite, Pass


@dataclass(frozen=True)
class TrainStep:
    """What one step did. Per-linear-layer tuples follow the chain's linear layers in order."""

    step: int
    loss: float  # on this step's minibatch, before the update
    lr: float
    update_ratios: tuple[float, ...]  # lr·std(dL/dW)/std(W), per linear layer
    weight_norms: tuple[float, ...]  # ‖W‖ after the update, per linear layer
    output_norms: tuple[float, ...]  # ‖output‖ of every layer in this step's forward pass
    nonfinite: NonFinite | None


class Trainer:
    """Trains ``chain`` in place on ``inputs``/``targets`` (already prepared for ``loss``).

    Parameters
    ----------
    batch_size : int
        Minibatch size; 0 or at least the dataset size means full batch. Each epoch
        visits a fresh permutation drawn from ``generator``; the last batch may be short.
    """

    def __init__(self, chain: Chain, inputs: torch.Tensor, targets: torch.Tensor,
                 loss: str, config: SGDConfig, batch_size: int,
                 generator: torch.Generator) -> None:
        self.chain, self.inputs, self.targets, self.loss = chain, inputs, targets, loss
        self.batch_size = batch_size if 0 < batch_size < len(inputs) else len(inputs)
        self.generator = generator
        self.optimizer = SGD([t for _, t in chain.parameters()], config)
        self.step_count = 0
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.batch_size == len(self.inputs):
            return self.inputs, self.targets
        if self._cursor >= len(self._order):
            self._order = torch.randperm(len(self.inputs), generator=self.generator)
            self._cursor = 0
        rows = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return self.inputs[rows], self.targets[rows]

    def step(self) -> TrainStep:
        """One forward, backward and SGD update."""
        inputs, targets = self._next_batch()
        pass_ = Pass(self.chain, inputs, targets, self.loss).run()
        nonfinite = pass_.first_nonfinite()
        lr = self.optimizer.lr
        linears = [layer for layer in self.chain.layers if isinstance(layer, Linear)]
        ratios = tuple(update_to_data_ratio(layer.params["weight"], layer.grads["weight"], lr)
                       for layer in linears)
        if nonfinite is None:
            self.optimizer.step(self.chain.gradients())
        self.step_count += 1
        return TrainStep(
            step=self.step_count, loss=float(pass_.loss), lr=lr,  # type: ignore[arg-type]
            update_ratios=ratios,
            weight_norms=tuple(float(torch.linalg.vector_norm(layer.params["weight"]))
                               for layer in linears),
            output_norms=tuple(float(torch.linalg.vector_norm(out))  # type: ignore[arg-type]
                               for out in pass_.outputs),
            nonfinite=nonfinite,
        )

    def steps(self, count: int | None = None) -> Iterator[TrainStep]:
        """Yield ``count`` steps (forever if None); stops after a step that went non-finite,
        leaving the parameters as they were before it."""
        done = 0
        while count is None or done < count:
            record = self.step()
            done += 1
            yield record
            if record.nonfinite is not None:
                return
