"""Stochastic gradient descent, step for step as ``torch.optim.SGD`` (dampening 0)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SGDConfig:
    lr: float = 0.03
    momentum: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False


class SGD:
    """Updates a list of parameter tensors in place from their gradients.

    ``lr`` may be changed between steps (the GUI does this without a reset).
    """

    def __init__(self, params: list[torch.Tensor], config: SGDConfig) -> None:
        self.params = params
        self.lr, self.momentum = config.lr, config.momentum
        self.weight_decay, self.nesterov = config.weight_decay, config.nesterov
        self._buffers: list[torch.Tensor | None] = [None] * len(params)

    def step(self, grads: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for i, (param, grad) in enumerate(zip(self.params, grads, strict=True)):
                d_p = grad.add(param, alpha=self.weight_decay) if self.weight_decay else grad
                if self.momentum:
                    buffer = self._buffers[i]
                    if buffer is None:
                        buffer = self._buffers[i] = d_p.clone()
                    else:
                        buffer.mul_(self.momentum).add_(d_p)
                    d_p = d_p.add(buffer, alpha=self.momentum) if self.nesterov else buffer
                param.add_(d_p, alpha=-self.lr)
