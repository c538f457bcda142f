"""What the Norms lab's pages experiment on: the window's session, or a preset deep chain.

A :class:`Subject` is a plain snapshot (spec, dataset, loss, dtype, seed, SGD settings)
read from the state when a page starts a computation; the state is never changed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.specs import (
    InitSpec,
    LinearSpec,
    NetworkSpec,
    ResidualSpec,
    repeated_block,
    walk_specs,
)
from engine.data.datasets import Dataset, make_dataset
from engine.data.tasks import TrainTask
from gui.state import AppState

CURRENT = "Current session"
PRESET_DEFAULT = "Deep tanh 20 × 32, torch's default init (spiral)"
PRESET_XAVIER = "Deep tanh 20 × 32, Xavier init, gain 5/3 (spiral)"
# the Xavier preset first: it is the one whose layers learn, so its inputs drift
SUBJECTS = (CURRENT, PRESET_XAVIER, PRESET_DEFAULT)
PRESET_SAMPLES, PRESET_NOISE = 200, 0.1
PRESET_TASK = TrainTask(lr=0.1, batch_size=32)


@dataclass(frozen=True)
class Subject:
    name: str
    network: NetworkSpec
    dataset: Dataset
    loss: str
    dtype: str
    seed: int
    task: TrainTask

    def hidden_blocks(self) -> int:
        """Linear layers and residual blocks before the output layer: the blocks a norm
        can be in."""
        starts = sum(isinstance(s, LinearSpec | ResidualSpec) for s in self.network.layers)
        return max(starts - 1, 0)

    def widest_hidden(self) -> int:
        """The most units a hidden linear layer has (0 without one): a norm over one
        feature has nothing to normalise (layer norm makes it 0)."""
        linear = [spec for _, spec in walk_specs(self.network.layers)
                  if isinstance(spec, LinearSpec)]  # residual blocks' own included
        return max((spec.out_features for spec in linear[:-1]), default=0)


def subject_for(name: str, state: AppState) -> Subject:
    """The subject called ``name`` (one of ``SUBJECTS``), read from ``state`` when current."""
    if name == CURRENT:
        session = state.session
        return Subject(name, state.network, state.dataset, session.loss, session.dtype,
                       session.seed, state.training.settings)
    init = InitSpec(kind="xavier_normal") if name == PRESET_XAVIER else None
    return Subject(name, repeated_block(2, 32, 20, "tanh", init=init),
                   make_dataset("spiral", PRESET_SAMPLES, PRESET_NOISE, 0),
                   "bce_with_logits", "float32", 0, PRESET_TASK)
