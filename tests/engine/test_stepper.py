"""Layer-by-layer stepping: order, the recorded chain-rule factors, non-finite values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.specs import ActivationSpec, LinearSpec, NetworkSpec, seed_example
from engine.core.stats import layer_stats
from engine.core.stepper import Pass, StepOrderError


def seed_pass() -> Pass:
    chain = Chain(seed_example(), "float64", torch.Generator().manual_seed(0))
    x = torch.tensor([[10.0]], dtype=torch.float64)
    return Pass(chain, x, torch.tensor([[0.5]], dtype=torch.float64), "mse")


def test_seed_example_numbers() -> None:
    pass_ = seed_pass().run()
    z1 = 0.3 * 10 + 0.3
    a1 = math.tanh(z1)
    a2 = math.tanh(0.3 * a1 + 0.3)
    assert float(pass_.loss) == pytest.approx((a2 - 0.5) ** 2, rel=1e-15)
    dl_da2 = 2 * (a2 - 0.5)
    dl_dz2 = dl_da2 * (1 - a2**2)
    assert float(pass_.grad_outputs[2]) == pytest.approx(dl_dz2, rel=1e-14)
    # the tanh's local factor f'(z1) is what the chain view writes out
    local = pass_.backwards[1].local
    assert local is not None
    assert float(local) == pytest.approx(1 - a1**2, rel=1e-14)
    assert float(pass_.grads(0)["weight"]) == pytest.approx(
        dl_dz2 * 0.3 * (1 - a1**2) * 10, rel=1e-13)


def test_steps_go_one_layer_at_a_time() -> None:
    pass_ = seed_pass()
    assert [pass_.step_forward() for _ in range(4)] == [0, 1, 2, 3]
    assert pass_.loss is not None
    assert pass_.phase == "backward"
    assert [pass_.step_backward() for _ in range(4)] == [3, 2, 1, 0]
    assert pass_.phase == "done"


def test_backward_before_forward_is_a_clear_error() -> None:
    pass_ = seed_pass()
    pass_.step_forward()
    with pytest.raises(StepOrderError, match="finish the forward pass first"):
        pass_.step_backward()


def test_stepping_past_the_end_is_a_clear_error() -> None:
    pass_ = seed_pass().run()
    with pytest.raises(StepOrderError):
        pass_.step_backward()
    with pytest.raises(StepOrderError):
        pass_.step_forward()


def test_records_are_copies() -> None:
    pass_ = seed_pass().run()
    record = pass_.record(0)
    record_weight = record.params["weight"].copy()
    pass_.contexts[0].params["weight"].fill_(9.0)  # nothing in the engine does this
    assert (record.params["weight"] == record_weight).all()


def test_a_pass_keeps_its_numbers_when_the_chain_moves_on() -> None:
    """Two passes on one chain never see each other's numbers (the stale chain rule of
    issue 8: a later pass rewrote what an earlier one showed)."""
    first = seed_pass().run()
    chain = first.chain
    shown = [first.record(i) for i in range(first.size)]
    # a later pass on other data, then new parameters, then another pass
    Pass(chain, torch.tensor([[0.5]], dtype=torch.float64),
         torch.tensor([[0.1]], dtype=torch.float64), "mse").run()
    chain.set_parameters([t * 2 for _, t in chain.parameters()])
    Pass(chain, torch.tensor([[-3.0]], dtype=torch.float64),
         torch.tensor([[0.9]], dtype=torch.float64), "mse").run()
    for before, index in zip(shown, range(first.size), strict=True):
        after = first.record(index)
        for name in ("input", "output", "grad_output", "grad_input", "local"):
            assert np.array_equal(getattr(before, name), getattr(after, name)), name
        for name, value in before.params.items():
            assert np.array_equal(value, after.params[name]), name
        for name, value in before.grads.items():
            assert np.array_equal(value, after.grads[name]), name
    # and the tanh's product still holds with the numbers shown: dL/dz = dL/da × f′(z)
    tanh = first.record(1)
    assert tanh.grad_input[0, 0] == tanh.grad_output[0, 0] * tanh.local[0, 0]
    a1 = math.tanh(3.3)
    assert tanh.local[0, 0] == pytest.approx(1 - a1**2, rel=1e-14)


@pytest.mark.parametrize(("value", "layer", "phase"), [
    (1e300, 0, "forward"),  # 1e300·1e300 overflows the first linear layer
    (1e-10, 2, "forward"),  # 1e290 passes the first; ·1e300 overflows the second
    (math.nan, 0, "forward"),  # NaN in, NaN out of the first layer
    (1e-300, 4, "loss"),  # 1e-300·1e300·1e300 = 1e300 is finite, its square is not
])
def test_first_nonfinite_forward(value: float, layer: int, phase: str) -> None:
    spec = NetworkSpec(input_size=1, layers=[
        LinearSpec(out_features=1, weight=[[1e300]], bias=[0.0]),
        ActivationSpec(kind="identity"),
        LinearSpec(out_features=1, weight=[[1e300]], bias=[0.0]),
        ActivationSpec(kind="identity"),
    ])
    chain = Chain(spec, "float64", torch.Generator())
    x = torch.tensor([[value]], dtype=torch.float64)
    pass_ = Pass(chain, x, torch.zeros(1, 1, dtype=torch.float64), "mse").run()
    found = pass_.first_nonfinite()
    assert found is not None
    assert (found.layer, found.phase) == (layer, phase)
    assert ("loss" if phase == "loss" else f"layer {layer}") in found.describe()


def test_first_nonfinite_backward() -> None:
    # finite forward (tanh saturates), but the gradient through huge weights overflows
    spec = NetworkSpec(input_size=1, layers=[
        LinearSpec(out_features=1, weight=[[1e200]], bias=[0.0]),
        ActivationSpec(kind="identity"),
        LinearSpec(out_features=1, weight=[[1e200]], bias=[0.0]),
        ActivationSpec(kind="identity"),
    ])
    chain = Chain(spec, "float64", torch.Generator())
    x = torch.tensor([[1e-250]], dtype=torch.float64)
    pass_ = Pass(chain, x, torch.zeros(1, 1, dtype=torch.float64), "mse").run()
    found = pass_.first_nonfinite()
    assert found is not None
    assert found.phase == "backward"
    assert found.layer == 2


def test_stats_flag_saturation_and_dead_units() -> None:
    spec = NetworkSpec(input_size=1, layers=[
        LinearSpec(out_features=2, weight=[[10.0], [-10.0]], bias=[0.0, -1.0]),
        ActivationSpec(kind="relu"),
        LinearSpec(out_features=1, weight=[[5.0, 5.0]], bias=[0.0]),
        ActivationSpec(kind="tanh"),
    ])
    chain = Chain(spec, "float64", torch.Generator())
    x = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    pass_ = Pass(chain, x, torch.zeros(2, 1, dtype=torch.float64), "mse").run()
    stats = layer_stats(pass_)
    assert stats[1].dead == 0.5  # the second unit is 0 for both samples
    assert stats[3].saturated == 1.0
    assert stats[0].grad_weight_l2 is not None
    assert stats[1].grad_weight_l2 is None
