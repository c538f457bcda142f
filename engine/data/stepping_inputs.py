"""What the Chain page steps through: the Inputs panel's slider sample (one input per
feature and a target) or the first N samples of the dataset, as tensors for a pass."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.core.chain import Chain
from engine.core.losses import prepare_targets
from engine.data.datasets import Dataset
from engine.data.experiment import data_tensors
from engine.data.session import PanelSettings


@dataclass
class SteppingInputs:
    """The slider sample (``probe``, ``probe_target``) and which batch is stepped:
    ``use_probe``, else the dataset's first ``batch_size`` samples (0: all of them)."""

    probe: list[float] = field(default_factory=list)
    probe_target: float = 0.0
    use_probe: bool = True
    batch_size: int = 0

    def reset(self, dataset: Dataset, loss: str) -> None:
        """The sliders at the first sample; a one-sample dataset is stepped as is."""
        self.use_probe = dataset.size == 1
        self.probe = [float(v) for v in dataset.inputs[0]]
        self.reset_target(dataset, loss)

    def reset_target(self, dataset: Dataset, loss: str) -> None:
        targets = dataset.targets_for(loss)
        self.probe_target = float(targets.reshape(dataset.size, -1)[0, 0])

    def set_probe(self, feature: int, value: float) -> None:
        """A slider moved: its sample is what is stepped now."""
        self.probe[feature] = value
        self.use_probe = True

    def set_target(self, value: float) -> None:
        self.probe_target = value
        self.use_probe = True

    def set_batch(self, use_probe: bool, batch_size: int = 0) -> None:
        """The slider sample, or the dataset's first ``batch_size`` samples (0: all)."""
        self.use_probe, self.batch_size = use_probe, batch_size

    def restore(self, panels: PanelSettings) -> None:
        """What a saved session's Inputs panel held (a probe of another width is not)."""
        if panels.probe is not None and len(panels.probe) == len(self.probe):
            self.probe = list(panels.probe)
        if panels.probe_target is not None:
            self.probe_target = panels.probe_target
        if panels.stepping_batch is not None:
            self.use_probe = panels.stepping_batch < 0
            self.batch_size = max(panels.stepping_batch, 0)

    def saved_in(self, panels: PanelSettings) -> PanelSettings:
        """``panels`` with the fields that :meth:`restore` reads back."""
        return panels.model_copy(update={
            "probe": [float(v) for v in self.probe], "probe_target": float(self.probe_target),
            "stepping_batch": -1 if self.use_probe else self.batch_size})

    def tensors(self, dataset: Dataset, loss: str,
                chain: Chain) -> tuple[torch.Tensor, torch.Tensor]:
        """The stepping batch, targets prepared for ``loss``; raises SessionError or
        TargetError."""
        if self.use_probe:
            inputs = torch.tensor([self.probe], dtype=chain.dtype)
            width = 1 if loss == "cross_entropy" else chain.output_size
            raw = torch.full((1, width), self.probe_target, dtype=chain.dtype)
            return inputs, prepare_targets(loss, raw, chain.output_size)
        inputs, targets = data_tensors(dataset, loss, chain)
        if 0 < self.batch_size < len(inputs):
            return inputs[:self.batch_size], targets[:self.batch_size]
        return inputs, targets


def slider_ranges(dataset: Dataset) -> list[tuple[float, float]]:
    """Slider range per input feature: the data's range with a margin of a fifth, and
    wide enough to matter: a single point x gets ±1.2|x| (the seed example's x = 10
    spans −12…12, so a slider can take tanh out of saturation), at least ±1."""
    low, high = dataset.inputs.min(0), dataset.inputs.max(0)
    ranges = []
    for a, b in zip(low.tolist(), high.tolist(), strict=True):
        span = b - a
        if span < 1e-9 * max(abs(a), abs(b), 1.0):  # one point: symmetric about 0
            half = 1.2 * max(abs(a), 1.0)
            ranges.append((-half, half))
        else:
            ranges.append((a - 0.2 * span, b + 0.2 * span))
    return ranges
