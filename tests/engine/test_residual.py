"""Residual blocks, x + f(x): every value against torch autograd on a twin built here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.chain import Chain, SpecError
from engine.core.losses import LOSSES
from engine.core.residual import Residual
from engine.core.specs import (
    ActivationSpec,
    LinearSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
    repeated_block,
)
from engine.core.stats import layer_stats
from engine.core.stepper import Pass
from tests.engine.helpers import (
    assert_close,
    random_batch,
    random_residual_spec,
    torch_loss,
    torch_twin,
)

CASES = [(seed, dtype) for seed in range(40) for dtype in ("float64", "float32")]


def _run_twin(module: torch.nn.Module, x: torch.Tensor,
              kept: list[torch.Tensor]) -> torch.Tensor:
    """Run a twin module, keeping (with retained gradients) the output of every module and
    of every module inside a residual block, in the order Chain.walk() lists them."""
    if hasattr(module, "body"):
        h = x
        out_position = len(kept)
        kept.append(x)  # placeholder for the block's own output
        for inner in module.body:
            h = _run_twin(inner, h, kept)
        out = x + h
        kept[out_position] = out
    else:
        # a view of its own: nn.Identity returns its input, whose gradient is another's
        out = module(x)
        out = out.view_as(out)
        kept.append(out)
    out.retain_grad()
    return out


def _check_pass(chain: Chain, x: torch.Tensor, targets: torch.Tensor, loss: str) -> None:
    model = torch_twin(chain)
    pass_ = Pass(chain, x, targets, loss).run()
    x_ref = x.clone().requires_grad_(True)
    kept: list[torch.Tensor] = []
    h = x_ref
    for module in model:
        h = _run_twin(module, h, kept)
    reference_loss = torch_loss(loss, h, targets)
    reference_loss.backward()

    assert_close(pass_.loss, reference_loss.detach(), chain.dtype, "loss")
    grad_scale = max(float(t.grad.abs().max()) for t in kept if t.grad is not None)
    grad_scale = max(grad_scale, float(x_ref.grad.abs().max()))
    # every layer, residual blocks' inner layers included, through the pass's records
    records = []
    for index in range(len(chain.layers)):
        stack = [pass_.record(index)]
        while stack:
            record = stack.pop(0)
            records.append(record)
            stack[0:0] = list(record.inner)
    assert len(records) == len(kept) == len(chain.walk())
    for (path, _), record, reference in zip(chain.walk(), records, kept, strict=True):
        assert_close(record.output, reference.detach(), chain.dtype, f"output {path}")
        assert reference.grad is not None
        assert record.grad_output is not None
        assert_close(record.grad_output, reference.grad, chain.dtype, f"grad_output {path}",
                     grad_scale)
    assert_close(pass_.grad_inputs[0], x_ref.grad, chain.dtype, "dL/dx", grad_scale)
    for index, module in enumerate(model):
        for name, param in module.named_parameters():
            assert_close(pass_.grads(index)[name], param.grad, chain.dtype,
                         f"grad {index}.{name}", grad_scale)
    # the chain's names are torch's, in torch's order
    assert [n for n, _ in chain.parameters()] == [n for n, _ in model.named_parameters()]
    assert [n for n, _ in chain.buffers()] == [n for n, _ in model.named_buffers()
                                                if not n.endswith("num_batches_tracked")]
    assert len(pass_.gradients()) == len(chain.parameters())


@pytest.mark.parametrize(("seed", "dtype"), CASES)
def test_random_residual_chains_match_autograd(seed: int, dtype: str) -> None:
    rng = np.random.default_rng(1000 + seed)
    batch = int(rng.choice([1, 2, 5, 16]))
    loss = LOSSES[seed % len(LOSSES)]
    chain = Chain(random_residual_spec(rng, batch), dtype, torch.Generator().manual_seed(seed))
    assert any(isinstance(layer, Residual) for layer in chain.layers)
    x, targets = random_batch(rng, chain, loss, batch)
    _check_pass(chain, x, targets, loss)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm", ["batch", "layer", "rms", "l2"])
@pytest.mark.parametrize("placement", ["pre", "post"])
def test_repeated_residual_blocks_match_autograd(dtype: str, norm: str, placement: str) -> None:
    spec = repeated_block(3, 5, 3, "tanh", norm=norm, output_size=2, residual=True,
                          norm_placement=placement)
    chain = Chain(spec, dtype, torch.Generator().manual_seed(3))
    rng = np.random.default_rng(3)
    x, targets = random_batch(rng, chain, "cross_entropy", 8)
    _check_pass(chain, x, targets, "cross_entropy")


def test_nested_blocks_name_their_parameters_as_torch_does() -> None:
    inner = ResidualSpec(layers=[LinearSpec(out_features=3), ActivationSpec(kind="relu"),
                                 LinearSpec(out_features=2)])
    spec = NetworkSpec(input_size=2, layers=[
        ActivationSpec(kind="tanh"),
        ResidualSpec(layers=[NormSpec(kind="batch"), inner, LinearSpec(out_features=2)]),
        LinearSpec(out_features=1)])
    chain = Chain(spec, "float64", torch.Generator().manual_seed(0))
    assert [n for n, _ in chain.parameters()] == [
        "1.body.0.weight", "1.body.0.bias",
        "1.body.1.body.0.weight", "1.body.1.body.0.bias",
        "1.body.1.body.2.weight", "1.body.1.body.2.bias",
        "1.body.2.weight", "1.body.2.bias", "2.weight", "2.bias"]
    assert [n for n, _ in chain.buffers()] == ["1.body.0.running_mean", "1.body.0.running_var"]
    assert [p for p, _ in chain.linear_layers()] == ["1.body.1.body.0", "1.body.1.body.2",
                                                     "1.body.2", "2"]
    x = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    _check_pass(chain, x, x[:, :1], "mse")


def test_a_block_is_one_step_forward_and_one_step_backward() -> None:
    spec = repeated_block(2, 4, 2, "tanh", residual=True)
    chain = Chain(spec, "float64", torch.Generator().manual_seed(0))
    x = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    pass_ = Pass(chain, x, x[:, :1], "mse")
    assert pass_.size == 4  # projection, two blocks, output layer
    assert [pass_.step_forward() for _ in range(4)] == [0, 1, 2, 3]
    assert pass_.phase == "backward"
    assert [pass_.step_backward() for _ in range(4)] == [3, 2, 1, 0]
    record = pass_.record(1)
    assert (record.type, record.kind) == ("residual", "residual")
    assert [(r.index, r.kind) for r in record.inner] == [(0, "linear"), (1, "tanh")]
    assert set(record.params) == {"body.0.weight", "body.0.bias"}
    assert set(record.grads) == {"body.0.weight", "body.0.bias"}
    assert record.local is None
    # the block's output is its input plus the branch's
    np.testing.assert_allclose(record.output, record.input + record.inner[-1].output)


def test_a_record_before_the_pass_reaches_a_block_shows_its_parameters() -> None:
    chain = Chain(repeated_block(2, 3, 1, "tanh", residual=True), "float64",
                  torch.Generator().manual_seed(0))
    x = torch.randn(4, 2, dtype=torch.float64)
    record = Pass(chain, x, x[:, :1], "mse").record(1)
    assert record.inner == ()
    assert record.grad_output is None
    np.testing.assert_array_equal(record.params["body.0.weight"],
                                  chain.layers[1].params["body.0.weight"].numpy())


def test_batch_norm_inside_blocks_tracks_its_running_statistics_as_torch() -> None:
    spec = repeated_block(2, 4, 2, "tanh", norm="batch", residual=True, norm_placement="pre")
    chain = Chain(spec, "float32", torch.Generator().manual_seed(0))
    model = torch_twin(chain).train()
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(7, 2, generator=gen)
        pass_ = Pass(chain, x, x[:, :1], "mse").run()
        chain.track(pass_.contexts)
        model(x)
    buffers = dict(model.named_buffers())
    assert len(chain.buffers()) == 4
    for name, tensor in chain.buffers():
        assert_close(tensor, buffers[name], chain.dtype, name)
    # eval mode (infer) on the running statistics, as torch's eval()
    x = torch.randn(5, 2, generator=gen)
    assert_close(chain.infer(x), model.eval()(x).detach(), chain.dtype, "infer")


def test_copies_and_state_loads_reach_into_blocks() -> None:
    spec = repeated_block(2, 4, 1, "tanh", norm="batch", residual=True)
    chain = Chain(spec, "float64", torch.Generator().manual_seed(0))
    twin = chain.copy()
    twin.set_parameters([t + 1 for _, t in chain.parameters()])
    assert not torch.equal(twin.parameters()[2][1], chain.parameters()[2][1])
    other = Chain(spec, "float64", torch.Generator().manual_seed(5))
    other.load_state(twin)
    for (_, a), (_, b) in zip(other.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_block_refuses_a_whole_new_parameter_dict_and_unknown_names() -> None:
    block = Chain(NetworkSpec(input_size=2, layers=[
        ResidualSpec(layers=[LinearSpec(out_features=2)])]), "float64",
        torch.Generator()).layers[0]
    with pytest.raises(AttributeError):
        block.params = {}
    for name in ("body.1.weight", "weight", "body.x.weight"):
        with pytest.raises(KeyError):
            block.set_param(name, torch.zeros(2, 2))


def test_first_nonfinite_names_the_block() -> None:
    chain = Chain(repeated_block(2, 3, 2, "tanh", residual=True), "float64",
                  torch.Generator().manual_seed(0))
    chain.layers[2].set_param("body.0.bias", torch.tensor([0.0, float("nan"), 0.0]))
    x = torch.randn(4, 2, dtype=torch.float64)
    pass_ = Pass(chain, x, x[:, :1], "mse")
    pass_.step_forward()
    pass_.step_forward()
    assert pass_.first_nonfinite() is None
    pass_.step_forward()
    found = pass_.first_nonfinite()
    assert found is not None
    assert (found.layer, found.phase) == (2, "forward")


def test_stats_treat_a_block_as_one_layer_with_its_weights_gradient() -> None:
    chain = Chain(NetworkSpec(input_size=2, layers=[
        ResidualSpec(layers=[LinearSpec(out_features=3), ActivationSpec(kind="tanh"),
                             LinearSpec(out_features=2)]),
        LinearSpec(out_features=1)]), "float64", torch.Generator().manual_seed(0))
    x = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    pass_ = Pass(chain, x, x[:, :1], "mse").run()
    stats = layer_stats(pass_)
    assert len(stats) == 2
    model = torch_twin(chain)
    torch_loss("mse", model(x), x[:, :1]).backward()
    block = model[0].body
    expected = torch.cat([block[0].weight.grad.reshape(-1), block[2].weight.grad.reshape(-1)])
    assert stats[0].grad_weight_l2 == pytest.approx(float(expected.norm()), rel=1e-12)
    assert stats[0].saturated is None


def test_the_skip_carries_the_gradient_through_a_deep_saturating_chain() -> None:
    """What residual blocks are for: 30 sigmoid (or tanh) blocks let a gradient reach the
    first layer that a plain chain of the same layers all but loses."""
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    y = torch.randn(64, 1, generator=torch.Generator().manual_seed(1))
    for activation in ("sigmoid", "tanh"):
        norms = {}
        for residual in (False, True):
            spec = repeated_block(2, 16, 30, activation, residual=residual)
            chain = Chain(spec, "float32", torch.Generator().manual_seed(2))
            pass_ = Pass(chain, x, y, "mse").run()
            norms[residual] = float(pass_.grads(0)["weight"].norm())
        assert norms[True] > 1e3 * norms[False], (activation, norms)


def test_width_mismatch_and_empty_blocks_are_refused_with_their_paths() -> None:
    generator = torch.Generator()
    wide = NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=4), ActivationSpec(kind="tanh"), ResidualSpec(layers=[
            LinearSpec(out_features=8)])])
    with pytest.raises(SpecError) as error:
        Chain(wide, "float32", generator)
    assert error.value.path == "network.layers.2.layers"
    assert str(error.value) == ("network.layers.2.layers: a residual block must end at the "
                                "width it starts with (4), its layers end at 8")
    nested = NetworkSpec(input_size=3, layers=[ResidualSpec(layers=[
        LinearSpec(out_features=5),
        ResidualSpec(layers=[LinearSpec(out_features=2)]),
        LinearSpec(out_features=3)])])
    with pytest.raises(SpecError, match=r"^network\.layers\.0\.layers\.1\.layers: .*\(5\), "
                                        r"its layers end at 2$"):
        Chain(nested, "float32", generator)
    with pytest.raises(ValueError, match="at least 1 item"):
        ResidualSpec(layers=[])


def test_repeated_block_keeps_its_default_and_builds_both_placements() -> None:
    plain = repeated_block(2, 4, 2, "tanh", norm="layer")
    assert [s.type for s in plain.layers] == ["linear", "norm", "activation"] * 2 + ["linear"]
    pre = repeated_block(2, 4, 2, "tanh", norm="layer", residual=True)
    assert [s.type for s in pre.layers] == ["linear", "residual", "residual", "linear"]
    block = pre.layers[1]
    assert isinstance(block, ResidualSpec)
    assert [s.type for s in block.layers] == ["norm", "linear", "activation"]
    post = repeated_block(2, 4, 2, "tanh", norm="layer", residual=True, norm_placement="post")
    assert [s.type for s in post.layers] == ["linear", "residual", "norm", "residual", "norm",
                                             "linear"]
    block = post.layers[1]
    assert isinstance(block, ResidualSpec)
    assert [s.type for s in block.layers] == ["linear", "activation"]
    bare = repeated_block(2, 4, 1, "relu", residual=True)
    block = bare.layers[1]
    assert isinstance(block, ResidualSpec)
    assert [s.type for s in block.layers] == ["linear", "activation"]
    with pytest.raises(ValueError, match="norm_placement"):
        repeated_block(2, 4, 1, "relu", residual=True, norm_placement="middle")  # type: ignore[arg-type]


def test_a_linear_layer_in_a_block_takes_the_gain_of_the_activation_after_it() -> None:
    """xavier_uniform with tanh's gain 5/3: the bound is gain·√(6 / (fan_in + fan_out))."""
    spec = NetworkSpec(input_size=4, layers=[ResidualSpec(layers=[
        LinearSpec.model_validate({"out_features": 4, "init": "xavier_uniform"}),
        ActivationSpec(kind="tanh")])])
    chain = Chain(spec, "float64", torch.Generator().manual_seed(0))
    expected = torch.Generator().manual_seed(0)
    weight = torch.empty(4, 4, dtype=torch.float64)
    torch.nn.init.xavier_uniform_(weight, gain=5 / 3, generator=expected)
    assert torch.equal(chain.parameters()[0][1], weight)


def test_a_linear_layer_before_a_block_takes_no_activation_gain() -> None:
    """The activation after a block acts on x + f(x): a linear layer before the block gets
    gain 1 (a block ends the search for the next activation, as a linear layer does)."""
    spec = NetworkSpec(input_size=3, layers=[
        LinearSpec.model_validate({"out_features": 4, "init": "xavier_uniform"}),
        ResidualSpec(layers=[LinearSpec(out_features=4)]), ActivationSpec(kind="tanh")])
    chain = Chain(spec, "float64", torch.Generator().manual_seed(0))
    weight = torch.empty(4, 3, dtype=torch.float64)
    torch.nn.init.xavier_uniform_(weight, gain=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(chain.parameters()[0][1], weight)
