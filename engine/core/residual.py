"""A residual block, x + f(x), where f is the block's own layers applied in order.

Its layers must map a width back to itself (the spec check sees to it). The block holds
no tensor of its own: its parameters and buffers are its layers', named as in a
``torch.nn.Module`` that keeps them as ``self.body = nn.Sequential(...)``
(``body.0.weight``, ``body.2.body.1.bias``), so a chain's parameter names equal
``named_parameters()`` of its exported ``torch.nn.Sequential``.

The backward pass of x + f(x) is the identity's plus f's: dL/dx = g + J_fᵀ g. The skip
term is why a deep chain of blocks keeps its gradient where a plain chain of saturating
layers loses it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import torch

from engine.core.layers import Backward, Context, Layer

BODY = "body"


class Residual(Layer):
    """x + f(x) with f = ``layers`` in order (each a :class:`Layer`, residual included)."""

    type = "residual"
    kind = "residual"

    def __init__(self, layers: list[Layer]) -> None:
        # no Layer.__init__: params and buffers are views of the layers' own
        self.layers = layers

    @property
    def params(self) -> dict[str, torch.Tensor]:
        """Every parameter of the block's layers, named ``body.<j>.<name>``."""
        return _prefixed([layer.params for layer in self.layers])

    @params.setter
    def params(self, value: dict[str, torch.Tensor]) -> None:
        raise AttributeError("a residual block's parameters live in its layers; "
                             "replace one with set_param")

    @property
    def buffers(self) -> dict[str, torch.Tensor]:
        """Every buffer (batch norm's running statistics) of the block's layers."""
        return _prefixed([layer.buffers for layer in self.layers])

    @buffers.setter
    def buffers(self, value: dict[str, torch.Tensor]) -> None:
        raise AttributeError("a residual block's buffers live in its layers; "
                             "replace one with set_param")

    def set_param(self, name: str, value: torch.Tensor) -> None:
        """Replace ``body.<j>.<name>`` in layer j (see :meth:`Layer.set_param`)."""
        body, _, rest = name.partition(".")
        number, _, inner = rest.partition(".")
        if body != BODY or not number.isdigit() or int(number) >= len(self.layers):
            raise KeyError(f"{name}: not a parameter of this residual block")
        self.layers[int(number)].set_param(inner, value)

    def copy(self) -> Residual:
        return Residual([layer.copy() for layer in self.layers])

    def forward(self, x: torch.Tensor, training: bool = True) -> tuple[torch.Tensor, Context]:
        h, contexts = x, []
        for layer in self.layers:
            h, context = layer.forward(h, training)
            contexts.append(context)
        params = _prefixed([context.params for context in contexts])
        # saved: f(x), the branch's output (batch, width)
        return x + h, Context(x, params, (h,), inner=tuple(contexts))

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in self.layers:
            h = layer.infer(h)
        return x + h

    def backward(self, ctx: Context, grad_out: torch.Tensor) -> Backward:
        backwards: list[Backward] = []
        g = grad_out
        for layer, context in zip(reversed(self.layers), reversed(ctx.inner), strict=True):
            backward = layer.backward(context, g)
            backwards.append(backward)
            g = backward.grad_input
        backwards.reverse()
        grads = _prefixed([backward.grads for backward in backwards])
        # the skip connection's gradient, plus the branch's: (batch, width)
        return Backward(grad_out + g, grads, inner=tuple(backwards))

    def track(self, ctx: Context) -> None:
        for layer, context in zip(self.layers, ctx.inner, strict=True):
            layer.track(context)

    def __repr__(self) -> str:
        return f"Residual({', '.join(repr(layer) for layer in self.layers)})"


def _prefixed(stores: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {f"{BODY}.{j}.{name}": tensor for j, store in enumerate(stores)
            for name, tensor in store.items()}


def walk(layers: Sequence[Layer], prefix: str = "") -> Iterator[tuple[str, Layer]]:
    """Every layer with its module path ("3", "2.body.0"), a residual block's layers right
    after the block (the order of the chain's parameters)."""
    for index, layer in enumerate(layers):
        path = f"{prefix}{index}"
        yield path, layer
        if isinstance(layer, Residual):
            yield from walk(layer.layers, f"{path}.{BODY}.")
