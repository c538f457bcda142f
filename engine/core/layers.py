"""The three layer kinds of a chain, each with a hand-written backward pass.

Like early tinygrad's ``Function``: ``forward`` keeps what ``backward`` needs, and
``backward(grad_out)`` stores parameter gradients in ``self.grads`` and returns
``grad_in``. Tensors are torch tensors of the chain's dtype; no autograd graph is built.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.core import activations


class Layer:
    """Base class: a layer maps (batch, in) to (batch, out)."""

    type: str = ""

    def __init__(self) -> None:
        self.params: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}
        # The local factor of the chain rule at this layer, recorded by backward:
        # f'(z) for an activation, the weight matrix for a linear layer.
        self.local: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, training: bool = True) -> torch.Tensor:
        raise NotImplementedError

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate without touching what ``forward`` saved for a pending backward pass
        (batch norm uses its running statistics, as in eval mode)."""
        raise NotImplementedError

    def out_features(self, in_features: int) -> int:
        return in_features


class Linear(Layer):
    type = "linear"

    def __init__(self, in_features: int, out_features: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.in_features, self.out_features_ = in_features, out_features
        self.params = {
            "weight": torch.zeros(out_features, in_features, dtype=dtype),
            "bias": torch.zeros(out_features, dtype=dtype),
        }
        self._x: torch.Tensor | None = None

    def out_features(self, in_features: int) -> int:
        return self.out_features_

    def forward(self, x: torch.Tensor, training: bool = True) -> torch.Tensor:
        self._x = x  # (batch, in)
        return F.linear(x, self.params["weight"], self.params["bias"])  # (batch, out)

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.params["weight"], self.params["bias"])

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        assert self._x is not None, "backward before forward"
        weight = self.params["weight"]
        self.grads = {"weight": grad_out.T @ self._x, "bias": grad_out.sum(0)}
        self.local = weight
        return grad_out @ weight  # (batch, in)

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features_})"


class Activation(Layer):
    type = "activation"

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._z: torch.Tensor | None = None
        self._a: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, training: bool = True) -> torch.Tensor:
        self._z = x
        self._a = activations.activate(self.kind, x)
        return self._a

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        return activations.activate(self.kind, x)

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        assert self._z is not None, "backward before forward"
        assert self._a is not None
        self.local = activations.derivative(self.kind, self._z, self._a)  # f'(z)
        return grad_out * self.local

    def __repr__(self) -> str:
        return f"Activation({self.kind})"


class Norm(Layer):
    """batch, layer and RMS norm (with PyTorch's default affine parameters), l1/l2 normalize.

    batch norm uses the batch statistics with the biased variance (training mode) and
    keeps running estimates as ``torch.nn.BatchNorm1d`` does, for evaluating on a grid.
    """

    type = "norm"
    MOMENTUM = 0.1  # torch.nn.BatchNorm1d default

    def __init__(self, kind: str, features: int, eps: float, dtype: torch.dtype) -> None:
        super().__init__()
        self.kind, self.features, self.eps = kind, features, eps
        if kind in ("batch", "layer", "rms"):
            self.params["weight"] = torch.ones(features, dtype=dtype)
        if kind in ("batch", "layer"):
            self.params["bias"] = torch.zeros(features, dtype=dtype)
        if kind == "batch":
            self.running_mean = torch.zeros(features, dtype=dtype)
            self.running_var = torch.ones(features, dtype=dtype)
        self._saved: tuple[torch.Tensor, ...] = ()

    def forward(self, x: torch.Tensor, training: bool = True) -> torch.Tensor:
        if self.kind == "batch":
            return self._batch_forward(x, training)
        if self.kind == "layer":
            mean = x.mean(-1, keepdim=True)
            rstd = torch.rsqrt(x.var(-1, unbiased=False, keepdim=True) + self.eps)
            x_hat = (x - mean) * rstd
            self._saved = (x_hat, rstd)
            return F.layer_norm(x, (self.features,), self.params["weight"],
                                self.params["bias"], self.eps)
        if self.kind == "rms":
            rrms = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
            self._saved = (x * rrms, rrms)
            return F.rms_norm(x, (self.features,), self.params["weight"], self.eps)
        p = 1.0 if self.kind == "l1" else 2.0
        norm = torch.linalg.vector_norm(x, p, dim=-1, keepdim=True)
        self._saved = (x, norm)
        return F.normalize(x, p=p, dim=-1, eps=self.eps)

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "batch":
            return F.batch_norm(x, self.running_mean, self.running_var, self.params["weight"],
                                self.params["bias"], False, 0.0, self.eps)
        if self.kind == "layer":
            return F.layer_norm(x, (self.features,), self.params["weight"],
                                self.params["bias"], self.eps)
        if self.kind == "rms":
            return F.rms_norm(x, (self.features,), self.params["weight"], self.eps)
        return F.normalize(x, p=1.0 if self.kind == "l1" else 2.0, dim=-1, eps=self.eps)

    def _batch_forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        if not training:
            return self.infer(x)
        if x.shape[0] < 2:
            raise ValueError("batch norm needs a batch of at least 2 samples in training "
                             "mode (as torch.nn.BatchNorm1d)")
        mean = x.mean(0)
        var = x.var(0, unbiased=False)
        rstd = torch.rsqrt(var + self.eps)
        self._saved = ((x - mean) * rstd, rstd)
        with torch.no_grad():
            n = x.shape[0]
            self.running_mean.mul_(1 - self.MOMENTUM).add_(mean, alpha=self.MOMENTUM)
            self.running_var.mul_(1 - self.MOMENTUM).add_(var * (n / (n - 1)),
                                                          alpha=self.MOMENTUM)
        return F.batch_norm(x, None, None, self.params["weight"], self.params["bias"],
                            True, 0.0, self.eps)

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        if self.kind in ("batch", "layer"):
            return self._standardise_backward(grad_out, dim=0 if self.kind == "batch" else -1)
        if self.kind == "rms":
            x_hat, rrms = self._saved
            self.grads = {"weight": (grad_out * x_hat).sum(0)}
            g = grad_out * self.params["weight"]
            return rrms * (g - x_hat * (g * x_hat).mean(-1, keepdim=True))
        x, norm = self._saved
        clamped = norm < self.eps
        denom = norm.clamp_min(self.eps)
        y = x / denom
        if self.kind == "l2":
            through_norm = y * (grad_out * y).sum(-1, keepdim=True)
        else:
            through_norm = torch.sign(x) * (grad_out * y).sum(-1, keepdim=True)
        # Below eps the norm is clamped to a constant and no gradient flows through it.
        return (grad_out - through_norm.masked_fill(clamped, 0.0)) / denom

    def _standardise_backward(self, grad_out: torch.Tensor, dim: int) -> torch.Tensor:
        x_hat, rstd = self._saved
        reduce_dim = 0
        self.grads = {"weight": (grad_out * x_hat).sum(reduce_dim),
                      "bias": grad_out.sum(reduce_dim)}
        g = grad_out * self.params["weight"]
        return rstd * (g - g.mean(dim, keepdim=True)
                       - x_hat * (g * x_hat).mean(dim, keepdim=True))

    def __repr__(self) -> str:
        return f"Norm({self.kind}, features={self.features}, eps={self.eps:g})"
