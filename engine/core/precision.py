"""Low-precision training: weights kept in a narrow float format, computed in a wide one.

The chain computes in its dtype (float32 or float64); after every update each parameter
is rounded to the storage format (to nearest, or stochastically) and the rounded value is
what the next step starts from, as mixed-precision training without a master copy does.

What it costs is measured per step: for each linear layer the share of its non-zero
weight updates that left the stored weight where it was ("swamped": the gradient was
fine, the update was smaller than half the gap to the next representable weight), and
how many forward values (layer outputs) and backward values (gradients) would overflow
or flush to zero if held in the storage format.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.numbers.rounding import out_of_range, round_nearest, round_stochastic


@dataclass(frozen=True)
class Precision:
    storage: str  # a key of engine.numbers.rounding.STORAGE_DTYPES
    rounding: str = "nearest"  # or "stochastic"


@dataclass(frozen=True)
class RangeCounts:
    """Values that would not survive the storage format, in one step's passes."""

    forward_overflow: int = 0
    forward_flushed: int = 0  # non-zero values that round to zero
    backward_overflow: int = 0
    backward_flushed: int = 0


class Storage:
    """Rounds parameters to ``precision.storage``; stochastic rounding draws from
    ``generator`` (a generator of its own, so the minibatch order is the same with
    either rounding)."""

    def __init__(self, precision: Precision, generator: torch.Generator) -> None:
        self.precision, self.generator = precision, generator

    def round(self, tensor: torch.Tensor, stochastic: bool | None = None) -> torch.Tensor:
        if stochastic is None:
            stochastic = self.precision.rounding == "stochastic"
        if stochastic:
            return round_stochastic(tensor, self.precision.storage, self.generator)
        return round_nearest(tensor, self.precision.storage)

    def store_initial(self, params: list[torch.Tensor]) -> list[torch.Tensor]:
        """The starting parameters in the storage format (to nearest, as a cast of a
        model to that format does)."""
        return [self.round(p, stochastic=False) for p in params]

    def counts(self, forward: list[torch.Tensor], backward: list[torch.Tensor]) -> RangeCounts:
        # one pass over all values of each direction: a chain's tensors are small and many
        f_over, f_flush = out_of_range(_flat(forward), self.precision.storage)
        b_over, b_flush = out_of_range(_flat(backward), self.precision.storage)
        return RangeCounts(f_over, f_flush, b_over, b_flush)


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    if not tensors:
        return torch.zeros(0)
    return torch.cat([t.reshape(-1).to(tensors[0].dtype) for t in tensors])


def swamped_share(before: torch.Tensor, direction: torch.Tensor,
                  stored: torch.Tensor) -> float:
    """Of the entries meant to move (a non-zero update ``direction``), the share whose
    stored value stayed where it was (``stored == before``); 0 when none was meant to.

    The update is judged before any rounding, so an update lost in the compute dtype's
    own addition counts as swamped too (storage = compute dtype measures just that)."""
    moved = direction != 0
    count = int(moved.sum())
    if count == 0:
        return 0.0
    return int((moved & (stored == before)).sum()) / count
