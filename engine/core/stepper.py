"""One forward and backward pass over a batch, taken a layer at a time or all at once.

A :class:`Pass` is the run state the stepper, the chain view and the headless runner
share. Each forward step applies one layer; when the last layer is done the loss is
computed. Each backward step takes dL/d(output of layer i) and produces dL/d(input of
layer i), the layer's parameter gradients and its local chain-rule factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.core.chain import Chain
from engine.core.layers import Activation, Linear, Norm
from engine.core.losses import loss_gradient, loss_value


class StepOrderError(RuntimeError):
    """A step asked for out of order (backward before the forward pass is complete)."""


@dataclass(frozen=True)
class NonFinite:
    """Where the first NaN or Inf appeared: a layer index and ``forward``/``loss``/``backward``."""

    layer: int
    phase: str

    def describe(self) -> str:
        if self.phase == "loss":
            return "first NaN/Inf in the loss"
        return f"first NaN/Inf in the {self.phase} pass at layer {self.layer}"


@dataclass(frozen=True)
class LayerRecord:
    """A copied, immutable view of one layer after a pass (numpy arrays)."""

    index: int
    type: str
    kind: str
    input: np.ndarray
    output: np.ndarray
    grad_output: np.ndarray | None
    grad_input: np.ndarray | None
    local: np.ndarray | None  # f'(z) for an activation, W for a linear layer
    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]


def layer_kind(layer: object) -> str:
    if isinstance(layer, Activation | Norm):
        return layer.kind
    return "linear"


class Pass:
    """Forward and backward state of ``chain`` on one batch.

    Parameters
    ----------
    chain : Chain
    inputs : torch.Tensor
        Shape (batch, input_size), the chain's dtype.
    targets : torch.Tensor
        Already prepared for ``loss`` (see :func:`engine.core.losses.prepare_targets`).
    loss : str
    """

    def __init__(self, chain: Chain, inputs: torch.Tensor, targets: torch.Tensor,
                 loss: str, training: bool = True) -> None:
        self.chain, self.inputs, self.targets = chain, inputs, targets
        self.loss_name, self.training = loss, training
        n = len(chain.layers)
        self.outputs: list[torch.Tensor | None] = [None] * n
        self.grad_outputs: list[torch.Tensor | None] = [None] * n
        self.grad_inputs: list[torch.Tensor | None] = [None] * n
        self.loss: torch.Tensor | None = None
        self.forward_done = 0
        self.backward_done = 0
        self._nonfinite: NonFinite | None = None
        self._checked_forward = self._checked_backward = 0
        self._loss_checked = False

    @property
    def size(self) -> int:
        return len(self.chain.layers)

    @property
    def phase(self) -> str:
        """``forward`` until the loss exists, then ``backward`` until done, then ``done``."""
        if self.loss is None:
            return "forward"
        return "backward" if self.backward_done < self.size else "done"

    def layer_input(self, index: int) -> torch.Tensor:
        return self.inputs if index == 0 else self.outputs[index - 1]  # type: ignore[return-value]

    def step_forward(self) -> int:
        """Apply the next layer; after the last one compute the loss. Returns the layer index."""
        if self.loss is not None:
            raise StepOrderError("the forward pass is already complete; step backward or reset")
        index = self.forward_done
        if index < self.size:
            self.outputs[index] = self.chain.layers[index].forward(
                self.layer_input(index), self.training)
            self.forward_done += 1
        if self.forward_done == self.size:
            self.loss = loss_value(self.loss_name, self.final_output(), self.targets)
        return index

    def step_backward(self) -> int:
        """Back-propagate through the next layer (from the last). Returns its index."""
        if self.loss is None:
            raise StepOrderError(
                f"finish the forward pass first ({self.forward_done} of {self.size} "
                "layers done)")
        if self.backward_done >= self.size:
            raise StepOrderError("the backward pass is already complete; reset to step again")
        index = self.size - 1 - self.backward_done
        if self.backward_done == 0:
            self.grad_outputs[index] = loss_gradient(self.loss_name, self.final_output(),
                                                     self.targets)
        grad_in = self.chain.layers[index].backward(self.grad_outputs[index])
        self.grad_inputs[index] = grad_in
        if index > 0:
            self.grad_outputs[index - 1] = grad_in
        self.backward_done += 1
        return index

    def run(self) -> Pass:
        """Complete whatever remains of the forward and backward pass."""
        while self.loss is None:
            self.step_forward()
        while self.backward_done < self.size:
            self.step_backward()
        return self

    def final_output(self) -> torch.Tensor:
        return self.outputs[-1] if self.size else self.inputs  # type: ignore[return-value]

    def first_nonfinite(self) -> NonFinite | None:
        """Where the first NaN/Inf appeared so far: forward in layer order, the loss, then
        backward from the last layer. Scans only what is new since the last call."""
        if self._nonfinite is not None:
            return self._nonfinite
        for index in range(self._checked_forward, self.forward_done):
            if not _finite(self.outputs[index]):
                self._nonfinite = NonFinite(index, "forward")
                return self._nonfinite
        self._checked_forward = self.forward_done
        if self.loss is not None and not self._loss_checked:
            self._loss_checked = True
            if not _finite(self.loss):
                self._nonfinite = NonFinite(self.size, "loss")
                return self._nonfinite
        for step in range(self._checked_backward, self.backward_done):
            index = self.size - 1 - step
            tensors = [self.grad_inputs[index], *self.chain.layers[index].grads.values()]
            if not all(_finite(t) for t in tensors):
                self._nonfinite = NonFinite(index, "backward")
                return self._nonfinite
        self._checked_backward = self.backward_done
        return None

    def record(self, index: int) -> LayerRecord:
        """A copied snapshot of layer ``index`` as it stands now."""
        layer = self.chain.layers[index]
        backward_reached = index >= self.size - self.backward_done
        output = self.outputs[index]
        return LayerRecord(
            index=index, type=layer.type, kind=layer_kind(layer),
            input=_copy(self.layer_input(index)) if index == 0 or self.outputs[index - 1]
            is not None else np.empty((0,)),
            output=_copy(output) if output is not None else np.empty((0,)),
            grad_output=_copy(self.grad_outputs[index]),
            grad_input=_copy(self.grad_inputs[index]) if backward_reached else None,
            local=_copy(layer.local) if backward_reached and not isinstance(layer, Norm)
            else None,
            params={name: _copy(t) for name, t in layer.params.items()},
            grads={name: _copy(t) for name, t in layer.grads.items()}
            if backward_reached and isinstance(layer, Linear | Norm) else {},
        )

    def records(self) -> list[LayerRecord]:
        return [self.record(i) for i in range(self.size)]


def _finite(tensor: torch.Tensor | None) -> bool:
    if tensor is None:
        return True
    # A finite sum proves every element finite (NaN and Inf propagate) and costs a tenth
    # of isfinite().all(); only an overflowing sum needs the exact check.
    return math.isfinite(float(tensor.sum())) or bool(torch.isfinite(tensor).all())


def _copy(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().cpu().numpy().copy()
