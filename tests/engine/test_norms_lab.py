"""The Norms lab's engine: switching a chain's norms, the chains side by side against a
torch twin, the axis masks, batch norm on one sample, covariate shift, cost tables.
Expected values come from torch.nn modules and autograd, built here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.layers import Linear
from engine.core.specs import (
    NORM_KINDS,
    ActivationSpec,
    InitSpec,
    LinearSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
    repeated_block,
    walk_specs,
)
from engine.data.covariate_shift import (
    ShiftConfig,
    ShiftRecord,
    covariate_shift,
    record_covariate_shift,
)
from engine.data.datasets import make_dataset
from engine.data.experiment import build_chain, data_tensors
from engine.data.norm_axis import axis_mask, batch_of_one, example_batch, train_vs_eval
from engine.data.norm_cost import NORM_COSTS, measure_all, measure_norm_cost
from engine.data.norms_lab import norm_kind_of, side_by_side, twin_chains, with_norm
from engine.data.tasks import TrainTask
from tests.engine.helpers import torch_twin

LOSS = "bce_with_logits"


# -- with_norm ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", NORM_KINDS)
def test_with_norm_on_repeated_blocks_is_the_block_with_that_norm(kind: str) -> None:
    plain = repeated_block(2, 8, 4, "tanh")
    assert with_norm(plain, kind) == repeated_block(2, 8, 4, "tanh", norm=kind)
    for other in NORM_KINDS:
        assert with_norm(repeated_block(2, 8, 4, "tanh", norm=other), kind) == \
            repeated_block(2, 8, 4, "tanh", norm=kind)
    assert with_norm(repeated_block(2, 8, 4, "tanh", norm=kind), None) == plain
    assert norm_kind_of(with_norm(plain, kind)) == kind
    assert norm_kind_of(plain) is None


def test_with_norm_on_a_hand_written_chain() -> None:
    layers = [
        LinearSpec(out_features=3), ActivationSpec(kind="relu"),
        NormSpec(kind="batch"),  # after an activation: dropped
        LinearSpec(out_features=4), LinearSpec(out_features=5),  # no activation between
        NormSpec(kind="rms", eps=1e-3), ActivationSpec(kind="gelu"),
        LinearSpec(out_features=2), NormSpec(kind="layer"),  # after the output: dropped
    ]
    network = NetworkSpec(input_size=2, layers=layers)
    result = with_norm(network, "rms")
    kinds = [(s.type, getattr(s, "kind", None)) for s in result.layers]
    assert kinds == [("linear", None), ("norm", "rms"), ("activation", "relu"),
                     ("linear", None), ("norm", "rms"), ("linear", None), ("norm", "rms"),
                     ("activation", "gelu"), ("linear", None)]
    assert result.layers[6].eps == 1e-3  # the rms norm that was there is kept as it was
    assert result.layers[1].eps is None
    bare = with_norm(network, None)
    assert [s.type for s in bare.layers] == ["linear", "activation", "linear", "linear",
                                             "activation", "linear"]
    assert bare.input_size == 2
    single = NetworkSpec(input_size=1, layers=[LinearSpec(out_features=1)])
    assert with_norm(single, "layer") == single  # only an output layer: no norm
    with pytest.raises(ValueError, match="unknown norm kind"):
        with_norm(network, "group")


# -- side by side --------------------------------------------------------------------------

def _torch_profile(chain, inputs: torch.Tensor, targets: torch.Tensor):
    """Per linear layer: (pre mean, pre std, post mean, post std, ‖dL/da‖, ‖dL/dW‖) from
    the torch twin with forward hooks and autograd."""
    model = torch_twin(chain)
    outputs: dict[int, torch.Tensor] = {}

    def keep(index: int):
        def hook(_module: torch.nn.Module, _inputs: object, out: torch.Tensor) -> None:
            out.retain_grad()
            outputs[index] = out
        return hook

    for index, module in enumerate(model):
        module.register_forward_hook(keep(index))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(inputs), targets)
    loss.backward()
    linear = [i for i, m in enumerate(model) if isinstance(m, torch.nn.Linear)]
    rows = []
    for n, i in enumerate(linear):
        post = i + 1 if isinstance(model[i + 1] if i + 1 < len(model) else None,
                                   torch.nn.LayerNorm) else i
        last = (linear[n + 1] if n + 1 < len(linear) else len(model)) - 1
        pre, after = outputs[i].detach().double(), outputs[post].detach().double()
        rows.append((pre.mean(), pre.std(unbiased=False), after.mean(),
                     after.std(unbiased=False), outputs[last].grad.double().norm(),
                     model[i].weight.grad.double().norm()))
    return np.array([[float(v) for v in row] for row in rows]), outputs, float(loss.detach())


def test_side_by_side_matches_a_torch_twin_with_layer_norm() -> None:
    network = repeated_block(2, 12, 5, "tanh")
    dataset = make_dataset("spiral", 40, 0.1, 3)
    result = side_by_side(network, "layer", dataset, LOSS, dtype="float64", seed=7)
    without, normed = twin_chains(network, "layer", "float64", 7)
    # the same linear weights in both chains, and those the seed draws for the bare chain
    reference = build_chain(with_norm(network, None), "float64", 7)
    for chain in (without, normed):
        weights = [layer.params["weight"] for layer in chain.layers
                   if isinstance(layer, Linear)]
        expected = [layer.params["weight"] for layer in reference.layers
                    if isinstance(layer, Linear)]
        assert all(torch.equal(w, e) for w, e in zip(weights, expected, strict=True))
    inputs, targets = data_tensors(dataset, LOSS, normed)
    for chain, profile in ((without, result.without), (normed, result.with_norm)):
        expected, outputs, loss = _torch_profile(chain, inputs, targets)
        got = np.stack([profile.pre_mean, profile.pre_std, profile.post_mean,
                        profile.post_std, profile.grad_activation, profile.grad_weight], 1)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
        assert profile.loss == pytest.approx(loss, rel=1e-12)
    # torch's LayerNorm gives every sample mean 0 and (biased) std 1 over its features
    per_sample = outputs[1].detach().std(1, unbiased=False)
    assert torch.allclose(per_sample, torch.ones_like(per_sample), atol=1e-4)
    assert np.allclose(result.with_norm.post_std[:-1], 1.0, atol=1e-4)
    assert result.with_norm.has_norm.tolist() == [True] * 5 + [False]
    assert not result.without.has_norm.any()
    assert result.batch == 40


def test_with_norm_on_a_residual_chain_puts_one_first_in_every_block() -> None:
    post = repeated_block(2, 6, 3, "tanh", norm="batch", residual=True, norm_placement="post")
    nested = NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=4), NormSpec(kind="layer"),
        ResidualSpec(layers=[NormSpec(kind="rms", eps=1e-3), LinearSpec(out_features=4),
                             ActivationSpec(kind="relu"),
                             ResidualSpec(layers=[LinearSpec(out_features=4)])]),
        LinearSpec(out_features=1)])
    for network in (post, nested):
        bare = with_norm(network, None)
        assert not any(isinstance(spec, NormSpec) for _, spec in walk_specs(bare.layers))
        for kind in NORM_KINDS:
            normed = with_norm(network, kind)
            blocks = [spec for _, spec in walk_specs(normed.layers)
                      if isinstance(spec, ResidualSpec)]
            assert all(block.layers[0] == NormSpec(kind=kind) or
                       (block.layers[0].kind == kind == "rms" and block.layers[0].eps == 1e-3)
                       for block in blocks)  # first in every block, nested ones too
            norms = [spec for _, spec in walk_specs(normed.layers) if isinstance(spec, NormSpec)]
            assert len(norms) == len(blocks)  # and nowhere else
            assert norm_kind_of(normed) == kind
            assert with_norm(normed, None) == bare
    # the pre-norm preset is its own chain with a norm
    assert with_norm(post, "layer") == repeated_block(2, 6, 3, "tanh", norm="layer",
                                                      residual=True)


def _keeper(seen: dict[str, torch.Tensor], name: str):
    """A forward hook keeping a module's input and output (its gradient retained)."""
    def hook(_module: torch.nn.Module, args: tuple, out: torch.Tensor) -> None:
        out.retain_grad()
        seen[name], seen[name + " in"] = out, args[0]
    return hook


def test_side_by_side_on_a_residual_chain_matches_a_torch_twin() -> None:
    network = repeated_block(2, 8, 3, "tanh", residual=True)
    dataset = make_dataset("spiral", 30, 0.1, 2)
    result = side_by_side(network, "rms", dataset, LOSS, dtype="float64", seed=4)
    without, normed = twin_chains(network, "rms", "float64", 4)
    inputs, targets = data_tensors(dataset, LOSS, normed)
    for chain, profile, has_norm in ((without, result.without, False),
                                     (normed, result.with_norm, True)):
        model = torch_twin(chain)  # [projection, block, block, block, output]
        seen: dict[str, torch.Tensor] = {}

        for index, module in enumerate(model):
            module.register_forward_hook(_keeper(seen, str(index)))
            if index in (1, 2, 3):
                module.body[0].register_forward_hook(_keeper(seen, f"{index} first"))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(inputs), targets)
        loss.backward()
        assert profile.residual.tolist() == [False, True, True, True, False]
        assert profile.has_norm.tolist() == [False, has_norm, has_norm, has_norm, False]
        for block in (1, 2, 3):
            x = seen[f"{block} in"].detach()
            branch_input = seen[f"{block} first"] if has_norm else x
            linears = [m for m in model[block].body if isinstance(m, torch.nn.Linear)]
            expected = [x.mean(), x.std(unbiased=False), branch_input.detach().mean(),
                        branch_input.detach().std(unbiased=False),
                        seen[str(block)].grad.norm(),
                        torch.sqrt(sum(m.weight.grad.square().sum() for m in linears))]
            got = [profile.pre_mean[block], profile.pre_std[block], profile.post_mean[block],
                   profile.post_std[block], profile.grad_activation[block],
                   profile.grad_weight[block]]
            np.testing.assert_allclose(got, [float(v) for v in expected], rtol=1e-9,
                                       atol=1e-12)
        projection = seen["0"].detach()
        assert profile.pre_std[0] == pytest.approx(float(projection.std(unbiased=False)))
        assert profile.grad_activation[0] == pytest.approx(float(seen["0"].grad.norm()))
        assert profile.loss == pytest.approx(float(loss.detach()), rel=1e-12)
    # RMS norm gives each sample of the branch input a root mean square of 1
    assert np.allclose(result.with_norm.post_std[1:4] ** 2
                       + result.with_norm.post_mean[1:4] ** 2, 1.0, atol=1e-3)


def test_side_by_side_batch_norm_normalises_each_feature_of_the_batch() -> None:
    network = repeated_block(2, 6, 3, "relu")
    dataset = make_dataset("circle", 50, 0.0, 1)
    result = side_by_side(network, "batch", dataset, LOSS, dtype="float64", seed=2,
                          batch_size=16)
    assert result.batch == 16
    # every feature has mean 0 and std 1 over the batch, so the whole tensor does too
    np.testing.assert_allclose(result.with_norm.post_mean[:-1], 0.0, atol=1e-12)
    np.testing.assert_allclose(result.with_norm.post_std[:-1], 1.0, atol=1e-3)
    np.testing.assert_allclose(result.with_norm.pre_mean[0], result.without.pre_mean[0])


# -- the axis ------------------------------------------------------------------------------

def test_axis_masks() -> None:
    batch_mask = axis_mask("batch", 4, 5, row=1, column=3)
    expected = np.zeros((4, 5), dtype=bool)
    expected[:, 3] = True
    np.testing.assert_array_equal(batch_mask, expected)
    for kind in ("layer", "rms", "l1", "l2"):
        mask = axis_mask(kind, 4, 5, row=1, column=3)
        expected = np.zeros((4, 5), dtype=bool)
        expected[1, :] = True
        np.testing.assert_array_equal(mask, expected)
    with pytest.raises(IndexError):
        axis_mask("layer", 4, 5, row=4, column=0)


def test_axis_masks_say_which_entries_torch_mixes() -> None:
    """Perturb one entry: torch's module changes exactly the entries of its mask."""
    x = torch.tensor(example_batch(4, 5), dtype=torch.float64)
    modules = {"batch": torch.nn.BatchNorm1d(5).double(), "layer": torch.nn.LayerNorm(5).double()}
    for kind, module in modules.items():
        moved = x.clone()
        moved[2, 1] += 0.5
        changed = (module(moved) - module(x)).abs().detach().numpy() > 1e-12
        np.testing.assert_array_equal(changed, axis_mask(kind, 4, 5, row=2, column=1))


def test_batch_of_one_is_refused_in_training_as_torch_does() -> None:
    report = batch_of_one(example_batch(1, 5))
    assert report.both_refuse
    assert "BatchTooSmallError" in report.engine_training
    assert "Expected more than 1 value per channel when training" in report.torch_training
    expected = report.x / np.sqrt(1 + 1e-5)  # fresh running statistics: mean 0, var 1
    np.testing.assert_allclose(report.engine_eval, expected, rtol=1e-12)
    np.testing.assert_allclose(report.torch_eval, expected, rtol=1e-12)


def test_train_and_eval_differ_for_batch_norm_only() -> None:
    x = example_batch(4, 5)
    module = torch.nn.BatchNorm1d(5).double()
    tensor = torch.tensor(x)
    training = module(tensor).detach().numpy()  # also moves torch's running statistics
    result = train_vs_eval("batch", x, tracked_steps=1)
    np.testing.assert_allclose(result.training, training, rtol=1e-10)
    module.eval()
    np.testing.assert_allclose(result.tracked_eval, module(tensor).detach().numpy(),
                               rtol=1e-10)
    assert result.max_difference_fresh > 0.1
    for kind in ("layer", "rms", "l1", "l2"):
        same = train_vs_eval(kind, x)
        assert same.max_difference_fresh == 0.0
        assert same.max_difference_tracked == 0.0


# -- covariate shift -----------------------------------------------------------------------

def _shift_config(**changes: object) -> ShiftConfig:
    settings: dict = {"network": repeated_block(2, 16, 6, "tanh"), "kind": "layer",
                      "block": 4, "loss": LOSS, "task": TrainTask(lr=0.5, batch_size=16),
                      "steps": 100, "every": 10, "bins": 21, "seed": 1}
    settings.update(changes)
    return ShiftConfig(**settings)


def test_covariate_shift_the_normalised_input_stays_put_the_plain_one_drifts() -> None:
    dataset = make_dataset("spiral", 64, 0.1, 1)
    record = record_covariate_shift(_shift_config(), dataset)
    assert record.steps.tolist() == list(range(0, 101, 10))
    assert record.without.counts.shape == (11, 21)
    assert record.edges.shape == (22,)
    for trace in (record.without, record.with_norm):
        np.testing.assert_allclose(trace.counts.sum(1) + trace.outside, 1.0)
        assert np.all(trace.percentiles[:, 0] <= trace.percentiles[:, 2])
    drift = {name: float(np.abs(np.log(trace.std / trace.std[0])).max())
             for name, trace in (("without", record.without), ("with", record.with_norm))}
    assert drift["with"] < 0.05
    assert drift["without"] > 5 * drift["with"]
    assert np.all(np.abs(record.with_norm.std - 1) < 0.05)
    # both chains start from the same weights: the loss on the probe differs only by
    # the norms, and both trainers see the same minibatches (same seed)
    again = record_covariate_shift(_shift_config(), dataset)
    np.testing.assert_array_equal(again.without.counts, record.without.counts)
    np.testing.assert_array_equal(again.with_norm.loss, record.with_norm.loss)


def test_covariate_shift_in_a_residual_block_probes_what_its_branch_receives() -> None:
    dataset = make_dataset("spiral", 64, 0.1, 1)
    network = repeated_block(2, 16, 4, "tanh", residual=True)  # projection, 4 blocks, output
    config = _shift_config(network=network, block=3, steps=20, every=10)
    record = record_covariate_shift(config, dataset)
    # layer norm hands every sample of the branch mean 0 and std 1: over the batch, std 1
    # (then its learned gain and shift move it a little)
    assert record.with_norm.std[0] == pytest.approx(1.0, abs=1e-4)
    assert np.all(np.abs(record.with_norm.std - 1) < 0.05)
    # without norms the branch receives the residual stream x itself: block 3's input
    without, _ = twin_chains(network, "layer", "float32", 1)
    inputs, _ = data_tensors(dataset, LOSS, without)
    stream = torch_twin(without)[:3](inputs).detach()  # projection and blocks 1, 2
    assert record.without.std[0] == pytest.approx(float(stream.double().std(unbiased=False)),
                                                  rel=1e-5)
    with pytest.raises(IndexError, match="out of range"):
        record_covariate_shift(_shift_config(network=network, block=6), dataset)


def test_covariate_shift_generator_and_early_stop() -> None:
    dataset = make_dataset("spiral", 30, 0.1, 0)
    config = _shift_config(steps=7, every=3, network=repeated_block(2, 4, 2, "tanh"),
                           block=1)
    frames = list(covariate_shift(config, dataset))
    assert [f.step for f in frames] == [0, 3, 6, 7]
    assert all(np.array_equal(f.edges, frames[0].edges) for f in frames)
    record = ShiftRecord.collect(frames)
    assert record.with_norm.loss.shape == (4,)
    stopped = record_covariate_shift(config, dataset, should_stop=lambda: True)
    assert stopped.steps.tolist() == [0]
    with pytest.raises(IndexError):
        list(covariate_shift(_shift_config(block=9), dataset))


# -- cost ----------------------------------------------------------------------------------

def test_cost_table_and_measurement_structure() -> None:
    assert set(NORM_COSTS) == set(NORM_KINDS)
    assert [NORM_COSTS[k].reduction_count for k in NORM_KINDS] == [2, 2, 1, 1, 1]
    timing = measure_norm_cost("rms", 8, 16, repeats=5, budget_s=0.05)
    assert timing.kind == "rms"
    assert timing.torch_name == "nn.RMSNorm"
    assert timing.repeats >= 5
    assert min(timing.engine_forward_s, timing.engine_backward_s, timing.torch_forward_s,
               timing.torch_backward_s) > 0
    assert all(b > 0 for b in timing.best_s)
    report = measure_all(4, 8, repeats=5, budget_s=0.05)
    assert [t.kind for t in report.timings] == list(NORM_KINDS)
    assert report.threads >= 1
    assert report.device == "cpu"


def test_initialisation_is_shared_even_for_explicit_inits() -> None:
    network = repeated_block(3, 5, 2, "relu", init=InitSpec(kind="kaiming_normal"))
    without, normed = twin_chains(network, "batch", "float32", 11)
    pairs = zip([layer for layer in without.layers if isinstance(layer, Linear)],
                [layer for layer in normed.layers if isinstance(layer, Linear)], strict=True)
    assert all(torch.equal(a.params["bias"], b.params["bias"]) and
               torch.equal(a.params["weight"], b.params["weight"]) for a, b in pairs)
