"""What the runs (training, evolution) need from the state that owns the session.

A ``Protocol`` rather than the AppState class itself: the runs are built by the state,
and typing them against this keeps the dependency one-way and explicit.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from engine.core.chain import Chain
from engine.data.datasets import Dataset
from engine.data.session import Session

Extent = tuple[float, float, float, float]


class LiveSession(Protocol):
    chain: Chain  # the chain the window shows; runs copy it, never write it
    session: Session
    dataset: Dataset

    def data_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All samples and their targets for the session's loss; raises SessionError."""
        ...

    def boundary_extent(self) -> Extent | None:
        """Where decision boundaries are drawn, or None for data that is not 2-D."""
        ...

    def show_parameters(self, source: Chain, boundary: np.ndarray | None = None) -> None:
        """Show ``source``'s parameters (a run's result) in the window's chain;
        ``boundary``: its decision boundary if the worker computed it already."""
        ...
