"""Losses with mean reduction, as ``torch.nn.functional`` computes them, and their gradients."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES: tuple[str, ...] = ("mse", "cross_entropy", "bce_with_logits")


class TargetError(ValueError):
    """Targets that do not fit the loss or the chain's output."""


def prepare_targets(loss: str, targets: torch.Tensor, output_size: int) -> torch.Tensor:
    """Shape and type ``targets`` for ``loss`` against outputs of width ``output_size``.

    Shape
    -----
    targets: (batch,) or (batch, output_size); returns (batch, output_size) for ``mse`` and
    ``bce_with_logits``, (batch,) integer labels for ``cross_entropy``.
    """
    batch = targets.shape[0]
    if loss == "cross_entropy":
        flat = targets.reshape(batch, -1)
        if flat.shape[1] != 1:
            raise TargetError("cross_entropy takes one integer class label per sample")
        labels = flat[:, 0]
        if not torch.all(labels == labels.round()):
            raise TargetError("cross_entropy labels must be whole numbers")
        if labels.numel() and (labels.min() < 0 or labels.max() >= output_size):
            raise TargetError(f"cross_entropy labels must lie in 0..{output_size - 1} "
                              f"(the chain has {output_size} outputs)")
        return labels.long()
    shaped = targets.reshape(batch, -1)
    if shaped.shape[1] != output_size:
        raise TargetError(f"{loss} needs {output_size} target value(s) per sample "
                          f"(the chain's output width), got {shaped.shape[1]}")
    if loss == "bce_with_logits" and shaped.numel() and (shaped.min() < 0 or shaped.max() > 1):
        raise TargetError("bce_with_logits targets must lie in [0, 1]")
    return shaped


def loss_value(loss: str, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The scalar loss (0-d tensor)."""
    if loss == "mse":
        return F.mse_loss(output, targets)
    if loss == "cross_entropy":
        return F.cross_entropy(output, targets)
    if loss == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(output, targets)
    raise ValueError(f"unknown loss {loss!r}")


def loss_gradient(loss: str, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """dL/d(output), same shape as ``output``."""
    if loss == "mse":
        return 2.0 * (output - targets) / output.numel()
    if loss == "cross_entropy":
        probabilities = torch.softmax(output, dim=-1)
        onehot = F.one_hot(targets, output.shape[-1]).to(output.dtype)
        return (probabilities - onehot) / output.shape[0]
    if loss == "bce_with_logits":
        return (torch.sigmoid(output) - targets) / output.numel()
    raise ValueError(f"unknown loss {loss!r}")
