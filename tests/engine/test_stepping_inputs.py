"""The Chain page's stepping batch and the Inputs panel's slider sample, without Qt."""

from __future__ import annotations

import pytest
import torch

from engine.core.chain import Chain
from engine.core.specs import NetworkSpec
from engine.data.datasets import make_dataset
from engine.data.session import PanelSettings
from engine.data.stepping_inputs import SteppingInputs, slider_ranges


def test_the_sliders_start_at_the_first_sample_and_round_trip_through_a_session() -> None:
    dataset = make_dataset("spiral", 20, 0.0, seed=0)
    inputs = SteppingInputs()
    inputs.reset(dataset, "bce_with_logits")
    assert inputs.probe == dataset.inputs[0].tolist()
    assert inputs.probe_target == float(dataset.targets_for("bce_with_logits").reshape(-1)[0])
    assert not inputs.use_probe  # many samples: the data is stepped
    inputs.set_probe(0, 0.5)
    inputs.set_target(0.75)
    assert inputs.use_probe  # a slider moved: its sample is stepped
    inputs.set_probe(1, -0.25)
    inputs.set_batch(use_probe=False, batch_size=7)
    panels = inputs.saved_in(PanelSettings())
    assert panels.stepping_batch == 7
    reopened = SteppingInputs()
    reopened.reset(dataset, "bce_with_logits")
    reopened.restore(panels)
    assert (reopened.probe, reopened.use_probe, reopened.batch_size) == ([0.5, -0.25], False, 7)
    assert reopened.probe_target == 0.75
    # a probe saved for another number of features is not forced onto this data
    reopened.restore(PanelSettings(probe=[1.0, 2.0, 3.0]))
    assert reopened.probe == [0.5, -0.25]


@pytest.mark.parametrize(("use_probe", "batch_size", "rows"), [(True, 0, 1), (False, 0, 20),
                                                               (False, 5, 5), (False, 50, 20)])
def test_the_stepping_batch(use_probe: bool, batch_size: int, rows: int) -> None:
    dataset = make_dataset("spiral", 20, 0.0, seed=0)
    chain = Chain(NetworkSpec.model_validate({"input_size": 2, "layers": [
        {"type": "linear", "out_features": 1}]}), "float64", torch.Generator().manual_seed(0))
    inputs = SteppingInputs(probe=[0.5, -0.25], probe_target=1.0, use_probe=use_probe,
                            batch_size=batch_size)
    x, y = inputs.tensors(dataset, "mse", chain)
    assert x.shape == (rows, 2)
    assert y.shape == (rows, 1)
    if use_probe:
        assert x.tolist() == [[0.5, -0.25]]
        assert y.tolist() == [[1.0]]
    else:
        assert torch.equal(x, torch.tensor(dataset.inputs[:rows]))


def test_slider_ranges_span_the_data_with_a_margin_and_a_lone_point_symmetrically() -> None:
    dataset = make_dataset("spiral", 20, 0.0, seed=0)
    for (low, high), column in zip(slider_ranges(dataset), dataset.inputs.T, strict=True):
        span = column.max() - column.min()
        assert low == pytest.approx(column.min() - 0.2 * span)
        assert high == pytest.approx(column.max() + 0.2 * span)
    assert slider_ranges(make_dataset("seed_example", 1, 0.0, seed=0)) == [(-12.0, 12.0)]
