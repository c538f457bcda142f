"""The three layer kinds of a chain, each with a hand-written backward pass.

As early tinygrad put it, "an instantiation of the Function is the Context": a layer's
only state is its parameters (and batch norm's running statistics). ``forward`` returns
the output *and* a context holding everything that call's backward pass needs and
everything a view of that pass shows; ``backward(ctx, grad_out)`` returns a
:class:`Backward` with dL/d(input), the parameter gradients and the local chain-rule
factor. Two passes over the same layer therefore never see each other's numbers.

Parameters and buffers are replaced, never written in place (``set_param``), so a
context that holds the tensors a pass used keeps showing them after the chain moves on.
Tensors are torch tensors of the chain's dtype; no autograd graph is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

import torch
import torch.nn.functional as F

from engine.core import activations

BATCH_NORM_MOMENTUM = 0.1  # torch.nn.BatchNorm1d's default


class BatchTooSmallError(ValueError):
    """Batch norm in training mode met a batch of one sample (as torch.nn.BatchNorm1d)."""


class Context(NamedTuple):
    """What one forward call saw and computed, for its backward call and for the views.

    ``params`` are the very tensors the call used (parameters are replaced, not mutated,
    so these stay as they were). ``saved`` holds the layer kind's intermediates.
    """

    input: torch.Tensor  # (batch, in)
    params: dict[str, torch.Tensor]
    saved: tuple[torch.Tensor, ...] = ()
    # batch norm in training mode: this batch's mean and unbiased variance, from which
    # the running statistics are updated when a training step commits (Chain.track)
    batch_stats: tuple[torch.Tensor, torch.Tensor] | None = None
    inner: tuple[Context, ...] = ()  # a residual block: its layers' contexts, in order


class Backward(NamedTuple):
    """What one backward call produced (immutable: a named tuple, cheap to make for each
    of a deep chain's layers on every pass)."""

    grad_input: torch.Tensor  # (batch, in)
    grads: Mapping[str, torch.Tensor] = MappingProxyType({})
    # the local factor of the chain rule: f'(z) for an activation, W for a linear layer
    local: torch.Tensor | None = None
    inner: tuple[Backward, ...] = ()  # a residual block: its layers' backwards, in order


class Layer:
    """Base class: a layer maps (batch, in) to (batch, out)."""

    type: str = ""
    kind: str = ""

    def __init__(self) -> None:
        self.params: dict[str, torch.Tensor] = {}
        self.buffers: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor, training: bool = True) -> tuple[torch.Tensor, Context]:
        raise NotImplementedError

    def backward(self, ctx: Context, grad_out: torch.Tensor) -> Backward:
        raise NotImplementedError

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate without a context (batch norm uses its running statistics, as in eval
        mode)."""
        raise NotImplementedError

    def out_features(self, in_features: int) -> int:
        return in_features

    def track(self, ctx: Context) -> None:
        """Commit a training pass's batch statistics (only batch norm keeps any)."""

    def set_param(self, name: str, value: torch.Tensor) -> None:
        """Replace a parameter or buffer by ``value`` (same shape; cast to the dtype).

        The tensor is taken as it is, not copied: nothing in the engine writes into a
        parameter tensor, so sharing one is safe and contexts stay true.
        """
        store = self.params if name in self.params else self.buffers
        old = store[name]
        if value.shape != old.shape:
            raise ValueError(f"{name}: expected shape {list(old.shape)}, "
                             f"got {list(value.shape)}")
        store[name] = value.detach().to(dtype=old.dtype, device=old.device)

    def copy(self) -> Layer:
        """An independent layer with the same configuration and copied tensors."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.params = {name: t.clone() for name, t in self.params.items()}
        twin.buffers = {name: t.clone() for name, t in self.buffers.items()}
        return twin


class Linear(Layer):
    type = "linear"
    kind = "linear"

    def __init__(self, in_features: int, out_features: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.in_features, self.out_features_ = in_features, out_features
        self.params = {
            "weight": torch.zeros(out_features, in_features, dtype=dtype),
            "bias": torch.zeros(out_features, dtype=dtype),
        }

    def out_features(self, in_features: int) -> int:
        return self.out_features_

    def forward(self, x: torch.Tensor, training: bool = True) -> tuple[torch.Tensor, Context]:
        weight, bias = self.params["weight"], self.params["bias"]
        return F.linear(x, weight, bias), Context(x, {"weight": weight, "bias": bias})

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.params["weight"], self.params["bias"])

    def backward(self, ctx: Context, grad_out: torch.Tensor) -> Backward:
        weight = ctx.params["weight"]
        grads = {"weight": grad_out.T @ ctx.input, "bias": grad_out.sum(0)}
        return Backward(grad_out @ weight, grads, local=weight)  # (batch, in)

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features_})"


class Activation(Layer):
    type = "activation"

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor, training: bool = True) -> tuple[torch.Tensor, Context]:
        a = activations.activate(self.kind, x)
        return a, Context(x, {}, (a,))

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        return activations.activate(self.kind, x)

    def backward(self, ctx: Context, grad_out: torch.Tensor) -> Backward:
        (a,) = ctx.saved
        local = activations.derivative(self.kind, ctx.input, a)  # f'(z)
        return Backward(grad_out * local, local=local)

    def __repr__(self) -> str:
        return f"Activation({self.kind})"


class Norm(Layer):
    """batch, layer and RMS norm (with PyTorch's default affine parameters), l1/l2 normalize.

    batch norm uses the batch statistics with the biased variance in training mode, and
    running estimates (``buffers``) in eval mode, as ``torch.nn.BatchNorm1d`` does. A
    training-mode forward only *reports* the batch statistics in its context; the running
    estimates move when a training step commits them (:meth:`track`), so a pass made to
    look at the chain never changes it.
    """

    type = "norm"

    def __init__(self, kind: str, features: int, eps: float, dtype: torch.dtype,
                 momentum: float = BATCH_NORM_MOMENTUM) -> None:
        super().__init__()
        self.kind, self.features, self.eps, self.momentum = kind, features, eps, momentum
        if kind in ("batch", "layer", "rms"):
            self.params["weight"] = torch.ones(features, dtype=dtype)
        if kind in ("batch", "layer"):
            self.params["bias"] = torch.zeros(features, dtype=dtype)
        if kind == "batch":
            self.buffers = {"running_mean": torch.zeros(features, dtype=dtype),
                            "running_var": torch.ones(features, dtype=dtype)}

    def forward(self, x: torch.Tensor, training: bool = True) -> tuple[torch.Tensor, Context]:
        params = dict(self.params)
        weight, bias = params.get("weight"), params.get("bias")
        if self.kind == "batch":
            if not training:
                return self.infer(x), Context(x, params, self._eval_saved(x))
            return self._batch_forward(x, params)
        if self.kind == "layer":
            mean = x.mean(-1, keepdim=True)
            rstd = torch.rsqrt(x.var(-1, unbiased=False, keepdim=True) + self.eps)
            out = F.layer_norm(x, (self.features,), weight, bias, self.eps)
            return out, Context(x, params, ((x - mean) * rstd, rstd))
        if self.kind == "rms":
            rrms = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
            out = F.rms_norm(x, (self.features,), weight, self.eps)
            return out, Context(x, params, (x * rrms, rrms))
        p = 1.0 if self.kind == "l1" else 2.0
        norm = torch.linalg.vector_norm(x, p, dim=-1, keepdim=True)
        return F.normalize(x, p=p, dim=-1, eps=self.eps), Context(x, params, (x, norm))

    def _batch_forward(self, x: torch.Tensor,
                       params: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Context]:
        n = x.shape[0]
        if n < 2:
            raise BatchTooSmallError(
                "batch norm needs a batch of at least 2 samples in training mode (as "
                "torch.nn.BatchNorm1d)")
        mean = x.mean(0)
        var = x.var(0, unbiased=False)
        rstd = torch.rsqrt(var + self.eps)
        out = F.batch_norm(x, None, None, params["weight"], params["bias"], True, 0.0,
                           self.eps)
        return out, Context(x, params, ((x - mean) * rstd, rstd),
                            batch_stats=(mean, x.var(0, unbiased=True)))

    def _eval_saved(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rstd = torch.rsqrt(self.buffers["running_var"] + self.eps)
        return (x - self.buffers["running_mean"]) * rstd, rstd

    def track(self, ctx: Context) -> None:
        """Move the running statistics towards a training batch's (batch norm only)."""
        if ctx.batch_stats is None:
            return
        mean, var = ctx.batch_stats
        # as ATen's batch_norm_cpu_update_stats: momentum * batch + (1 - momentum) * running
        keep = 1 - self.momentum
        self.buffers = {
            "running_mean": mean * self.momentum + self.buffers["running_mean"] * keep,
            "running_var": var * self.momentum + self.buffers["running_var"] * keep,
        }

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.params.get("weight"), self.params.get("bias")
        if self.kind == "batch":
            return F.batch_norm(x, self.buffers["running_mean"], self.buffers["running_var"],
                                weight, bias, False, 0.0, self.eps)
        if self.kind == "layer":
            return F.layer_norm(x, (self.features,), weight, bias, self.eps)
        if self.kind == "rms":
            return F.rms_norm(x, (self.features,), weight, self.eps)
        return F.normalize(x, p=1.0 if self.kind == "l1" else 2.0, dim=-1, eps=self.eps)

    def backward(self, ctx: Context, grad_out: torch.Tensor) -> Backward:
        if self.kind == "batch" and ctx.batch_stats is None:
            # eval mode: a fixed affine map per feature
            x_hat, rstd = ctx.saved
            grads = {"weight": (grad_out * x_hat).sum(0), "bias": grad_out.sum(0)}
            return Backward(grad_out * ctx.params["weight"] * rstd, grads)
        if self.kind in ("batch", "layer"):
            return self._standardise_backward(ctx, grad_out,
                                              dim=0 if self.kind == "batch" else -1)
        if self.kind == "rms":
            x_hat, rrms = ctx.saved
            g = grad_out * ctx.params["weight"]
            grad_in = rrms * (g - x_hat * (g * x_hat).mean(-1, keepdim=True))
            return Backward(grad_in, {"weight": (grad_out * x_hat).sum(0)})
        x, norm = ctx.saved
        clamped = norm < self.eps
        denom = norm.clamp_min(self.eps)
        y = x / denom
        if self.kind == "l2":
            through_norm = y * (grad_out * y).sum(-1, keepdim=True)
        else:
            through_norm = torch.sign(x) * (grad_out * y).sum(-1, keepdim=True)
        # Below eps the norm is clamped to a constant and no gradient flows through it.
        return Backward((grad_out - through_norm.masked_fill(clamped, 0.0)) / denom)

    @staticmethod
    def _standardise_backward(ctx: Context, grad_out: torch.Tensor, dim: int) -> Backward:
        x_hat, rstd = ctx.saved
        grads = {"weight": (grad_out * x_hat).sum(0), "bias": grad_out.sum(0)}
        g = grad_out * ctx.params["weight"]
        grad_in = rstd * (g - g.mean(dim, keepdim=True)
                          - x_hat * (g * x_hat).mean(dim, keepdim=True))
        return Backward(grad_in, grads)

    def __repr__(self) -> str:
        return f"Norm({self.kind}, features={self.features}, eps={self.eps:g})"
