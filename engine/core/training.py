"""Minibatch SGD training as a generator: one immutable :class:`TrainStep` per step.

The generator knows nothing of threads; the GUI worker and the headless runner iterate
the same one. The SGD settings may change between steps (``trainer.optimizer.config``).

Minibatches: each epoch visits the samples in a fresh permutation drawn from the
trainer's generator (the session seed + 1, see :func:`engine.data.experiment.make_trainer`)
and cuts it into batches of ``batch_size``; the last batch of an epoch may be shorter.
With batch norm in the chain a last batch of a single sample is skipped (batch norm
cannot normalise one sample in training mode; PyTorch users drop such a batch with
``drop_last``), and ``TrainStep.skipped`` counts those skipped so far.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from engine.core.chain import Chain
from engine.core.layers import Norm
from engine.core.optim import SGD, SGDConfig
from engine.core.precision import RangeCounts, Storage, swamped_share
from engine.core.stats import update_to_data_ratio
from engine.core.stepper import NonFinite, Pass


@dataclass(frozen=True)
class TrainStep:
    """What one step did. Per-linear-layer tuples follow the chain's linear layers in order,
    those inside residual blocks included (``Chain.linear_layers()``)."""

    step: int
    loss: float  # on this step's minibatch, before the update
    lr: float
    # std(ΔW)/std(W) of the update actually applied (momentum included), per linear layer
    update_ratios: tuple[float, ...]
    weight_norms: tuple[float, ...]  # ‖W‖ after the update, per linear layer
    output_norms: tuple[float, ...]  # ‖output‖ of every layer in this step's forward pass
    nonfinite: NonFinite | None
    skipped: int = 0  # one-sample batches skipped so far (batch norm; see the module doc)
    # With weights stored in a narrow format (engine.core.precision), per linear layer:
    # the share of non-zero weight updates that rounding undid (NaN on a step not applied)
    swamped: tuple[float, ...] = ()
    range_counts: RangeCounts | None = None  # values the storage format cannot hold
    # ‖output‖ of every linear layer (residual blocks' included) in this step's forward pass
    linear_output_norms: tuple[float, ...] = ()


class Trainer:
    """Trains ``chain`` on ``inputs``/``targets`` (already prepared for ``loss``).

    The chain's parameters are replaced by updated ones at each step (never written in
    place), so a pass made on it earlier keeps its numbers. Give the trainer a chain of
    its own (``chain.copy()``) when something else is showing the original.

    Parameters
    ----------
    batch_size : int
        Minibatch size; 0 or at least the dataset size means full batch.
    storage : Storage, optional
        Keep the parameters in a narrow float format: rounded to it at the start and after
        every update (see :mod:`engine.core.precision`).
    """

    def __init__(self, chain: Chain, inputs: torch.Tensor, targets: torch.Tensor,
                 loss: str, config: SGDConfig, batch_size: int,
                 generator: torch.Generator, storage: Storage | None = None) -> None:
        self.chain, self.inputs, self.targets, self.loss = chain, inputs, targets, loss
        self.batch_size = batch_size if 0 < batch_size < len(inputs) else len(inputs)
        self.generator = generator
        self.optimizer = SGD(config)
        self.step_count = 0
        self.skipped = 0
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0
        self._has_batch_norm = any(isinstance(layer, Norm) and layer.kind == "batch"
                                   for _, layer in chain.walk())
        self.storage = storage
        # every linear layer (residual blocks' too), and where its weight sits in
        # chain.parameters()
        names = [name for name, _ in chain.parameters()]
        self._linear_weights = [names.index(f"{path}.weight")
                                for path, _ in chain.linear_layers()]
        if storage is not None:
            chain.set_parameters(storage.store_initial([t for _, t in chain.parameters()]))

    def set_batch_size(self, batch_size: int) -> None:
        """Takes effect at the next batch (the current epoch's order is kept)."""
        self.batch_size = batch_size if 0 < batch_size < len(self.inputs) \
            else len(self.inputs)

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.batch_size == len(self.inputs):
            return self.inputs, self.targets
        while True:
            if self._cursor >= len(self._order):
                self._order = torch.randperm(len(self.inputs), generator=self.generator)
                self._cursor = 0
            rows = self._order[self._cursor:self._cursor + self.batch_size]
            self._cursor += self.batch_size
            if len(rows) > 1 or not self._has_batch_norm:
                return self.inputs[rows], self.targets[rows]
            self.skipped += 1

    def step(self) -> TrainStep:
        """One forward, backward and SGD update."""
        inputs, targets = self._next_batch()
        pass_ = Pass(self.chain, inputs, targets, self.loss).run()
        nonfinite = pass_.first_nonfinite()
        config = self.optimizer.config  # read once: the GUI may replace it meanwhile
        lr = config.lr
        linear = [layer for _, layer in self.chain.linear_layers()]
        before = [layer.params["weight"] for layer in linear]
        swamped: tuple[float, ...] = ()
        if nonfinite is None:
            params = [t for _, t in self.chain.parameters()]
            updated, directions = self.optimizer.step_with_directions(
                params, pass_.gradients(), config)
            stored = updated
            if self.storage is not None:
                stored = [self.storage.round(t) for t in updated]
                swamped = tuple(swamped_share(params[k], directions[k], stored[k])
                                for k in self._linear_weights)
            self.chain.set_parameters(stored)
            self.chain.track(pass_.contexts)
            ratios = tuple(update_to_data_ratio(w, layer.params["weight"] - w)
                           for layer, w in zip(linear, before, strict=True))
        else:  # no update: the update that would have been applied shows the explosion
            gradients = pass_.gradients()
            ratios = tuple(update_to_data_ratio(w, -lr * gradients[k])
                           for k, w in zip(self._linear_weights, before, strict=True))
        counts = None
        if self.storage is not None:
            if nonfinite is not None:
                swamped = (float("nan"),) * len(linear)
            counts = self.storage.counts(
                [out for out in pass_.outputs if out is not None],
                [g for g in pass_.grad_inputs if g is not None] + pass_.gradients())
        self.step_count += 1
        loss = pass_.loss
        assert loss is not None
        return TrainStep(
            step=self.step_count, loss=float(loss), lr=lr,
            update_ratios=ratios,
            weight_norms=tuple(float(torch.linalg.vector_norm(layer.params["weight"]))
                               for layer in linear),
            output_norms=tuple(float(torch.linalg.vector_norm(out))
                               for out in pass_.outputs if out is not None),
            nonfinite=nonfinite,
            linear_output_norms=tuple(float(torch.linalg.vector_norm(out))
                                      for out in pass_.linear_outputs() if out is not None),
            skipped=self.skipped,
            swamped=swamped,
            range_counts=counts,
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
