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
    """Computes updated parameters from their gradients; keeps the momentum buffers.

    ``step`` returns new tensors rather than writing into the old ones: the engine never
    mutates a parameter in place, so a finished pass keeps the weights it used. The
    arithmetic is torch.optim.SGD's, operation for operation.

    ``config`` may be replaced between steps (the GUI changes the learning rate while a
    worker trains); a step reads it once, so one step never mixes two configurations.
    """

    def __init__(self, config: SGDConfig) -> None:
        self.config = config
        self._buffers: list[torch.Tensor | None] = []

    def step(self, params: list[torch.Tensor], grads: list[torch.Tensor],
             config: SGDConfig | None = None) -> list[torch.Tensor]:
        """The updated parameters, with ``config`` (default: ``self.config``)."""
        return self.step_with_directions(params, grads, config)[0]

    def step_with_directions(self, params: list[torch.Tensor], grads: list[torch.Tensor],
                             config: SGDConfig | None = None,
                             ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The updated parameters, and the direction each moved along (the parameter
        moves by -lr times it): whether an update was meant, before rounding says if
        it happened."""
        c = config or self.config
        directions = []
        if not self._buffers:
            self._buffers = [None] * len(params)
        updated = []
        with torch.no_grad():
            for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
                d_p = grad.add(param, alpha=c.weight_decay) if c.weight_decay else grad
                if c.momentum:
                    buffer = self._buffers[i]
                    if buffer is None:
                        buffer = self._buffers[i] = d_p.clone()
                    else:
                        buffer.mul_(c.momentum).add_(d_p)
                    d_p = d_p.add(buffer, alpha=c.momentum) if c.nesterov else buffer
                updated.append(param.add(d_p, alpha=-c.lr))
                directions.append(d_p)
        return updated, directions
