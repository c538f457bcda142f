"""One forward and backward pass over a batch, taken a layer at a time or all at once.

A :class:`Pass` is the run state the stepper, the chain view and the headless runner
share. Each forward step applies one layer; when the last layer is done the loss is
computed. Each backward step takes dL/d(output of layer i) and produces dL/d(input of
layer i), the layer's parameter gradients and its local chain-rule factor.

Everything a pass computes belongs to the pass (each layer call's :class:`Context` and
:class:`Backward`), never to the layers: a finished pass keeps showing its own numbers
whatever later passes, training steps or edits do to the chain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from engine.core.chain import Chain
from engine.core.layers import Activation, Backward, Context, Layer, Linear, Norm
from engine.core.losses import loss_gradient, loss_value
from engine.core.residual import Residual, walk


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
    # a residual block: its layers' records (index = position in the block); the block's
    # own input, output and gradients are those of x + f(x), its params its layers'
    inner: tuple[LayerRecord, ...] = ()


def layer_kind(layer: object) -> str:
    if isinstance(layer, Activation | Norm | Residual):
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
        self.contexts: list[Context | None] = [None] * n
        self.backwards: list[Backward | None] = [None] * n
        self.grad_outputs: list[torch.Tensor | None] = [None] * n
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

    @property
    def grad_inputs(self) -> list[torch.Tensor | None]:
        """dL/d(input) of each layer the backward pass has left."""
        return [None if b is None else b.grad_input for b in self.backwards]

    def layer_input(self, index: int) -> torch.Tensor | None:
        return self.inputs if index == 0 else self.outputs[index - 1]

    def grads(self, index: int) -> Mapping[str, torch.Tensor]:
        """Parameter gradients of layer ``index`` (empty until the backward pass left it)."""
        backward = self.backwards[index]
        return {} if backward is None else backward.grads

    def gradients(self) -> list[torch.Tensor]:
        """Every parameter gradient, in the order of ``chain.parameters()``."""
        return [self.grads(i)[name] for i, layer in enumerate(self.chain.layers)
                for name in layer.params]

    def step_forward(self) -> int:
        """Apply the next layer; after the last one compute the loss. Returns the layer index."""
        if self.loss is not None:
            raise StepOrderError("the forward pass is already complete; step backward or reset")
        index = self.forward_done
        if index < self.size:
            x = self.layer_input(index)
            assert x is not None
            self.outputs[index], self.contexts[index] = self.chain.layers[index].forward(
                x, self.training)
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
        context, grad_out = self.contexts[index], self.grad_outputs[index]
        assert context is not None
        assert grad_out is not None
        backward = self.chain.layers[index].backward(context, grad_out)
        self.backwards[index] = backward
        if index > 0:
            self.grad_outputs[index - 1] = backward.grad_input
        self.backward_done += 1
        return index

    def linear_outputs(self) -> list[torch.Tensor | None]:
        """The output of every linear layer, residual blocks' included, in the order of
        ``chain.linear_layers()`` (None where the forward pass has not been)."""
        found: list[torch.Tensor | None] = []
        for index, layer in enumerate(self.chain.layers):
            _linear_outputs(layer, self.contexts[index], self.outputs[index], found)
        return found

    def run(self) -> Pass:
        """Complete whatever remains of the forward and backward pass."""
        while self.loss is None:
            self.step_forward()
        while self.backward_done < self.size:
            self.step_backward()
        return self

    def final_output(self) -> torch.Tensor:
        output = self.outputs[-1] if self.size else self.inputs
        assert output is not None, "the forward pass is not complete"
        return output

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
            backward = self.backwards[index]
            assert backward is not None
            tensors = [backward.grad_input, *backward.grads.values()]
            if not all(_finite(t) for t in tensors):
                self._nonfinite = NonFinite(index, "backward")
                return self._nonfinite
        self._checked_backward = self.backward_done
        return None

    def record(self, index: int) -> LayerRecord:
        """A copied snapshot of layer ``index``: what this pass used and computed there."""
        return _record(index, self.chain.layers[index], self.layer_input(index),
                       self.outputs[index], self.grad_outputs[index], self.contexts[index],
                       self.backwards[index])

    def records(self) -> list[LayerRecord]:
        return [self.record(i) for i in range(self.size)]


def _linear_outputs(layer: Layer, context: Context | None, output: torch.Tensor | None,
                    found: list[torch.Tensor | None]) -> None:
    if isinstance(layer, Linear):
        found.append(output)
    elif isinstance(layer, Residual):
        if context is None:
            found += [None for _, inner in walk(layer.layers) if isinstance(inner, Linear)]
            return
        contexts = context.inner
        for j, inner in enumerate(layer.layers):
            inner_output = contexts[j + 1].input if j + 1 < len(contexts) else context.saved[0]
            _linear_outputs(inner, contexts[j], inner_output, found)


def _record(index: int, layer: Layer, x: torch.Tensor | None, output: torch.Tensor | None,
            grad_output: torch.Tensor | None, context: Context | None,
            backward: Backward | None) -> LayerRecord:
    # the parameters this pass used, or (not reached yet) the ones it will use
    params = context.params if context is not None else layer.params
    inner: tuple[LayerRecord, ...] = ()
    if isinstance(layer, Residual) and context is not None:
        inner = _inner_records(layer, context, grad_output, backward)
    return LayerRecord(
        index=index, type=layer.type, kind=layer_kind(layer),
        input=_copy(x) if x is not None else np.empty((0,)),
        output=_copy(output) if output is not None else np.empty((0,)),
        grad_output=_copy_or_none(grad_output),
        grad_input=None if backward is None else _copy(backward.grad_input),
        local=None if backward is None or backward.local is None else _copy(backward.local),
        params={name: _copy(t) for name, t in params.items()},
        grads={} if backward is None else {name: _copy(t)
                                           for name, t in backward.grads.items()},
        inner=inner,
    )


def _inner_records(block: Residual, context: Context, grad_output: torch.Tensor | None,
                   backward: Backward | None) -> tuple[LayerRecord, ...]:
    """The records of a residual block's layers on the pass's way through the block."""
    contexts = context.inner
    count = len(contexts)
    branch_output = context.saved[0]  # f(x)
    records = []
    for j, (layer, inner) in enumerate(zip(block.layers, contexts, strict=True)):
        output = contexts[j + 1].input if j + 1 < count else branch_output
        inner_backward = backward.inner[j] if backward is not None else None
        if backward is None:
            grad = None
        else:  # dL/d(output of layer j): what the next layer in the block passed back
            grad = backward.inner[j + 1].grad_input if j + 1 < count else grad_output
        records.append(_record(j, layer, inner.input, output, grad, inner, inner_backward))
    return tuple(records)


def _finite(tensor: torch.Tensor | None) -> bool:
    if tensor is None:
        return True
    # A finite sum proves every element finite (NaN and Inf propagate) and costs a tenth
    # of isfinite().all(); only an overflowing sum needs the exact check.
    return math.isfinite(float(tensor.sum())) or bool(torch.isfinite(tensor).all())


def _copy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def _copy_or_none(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else _copy(tensor)
