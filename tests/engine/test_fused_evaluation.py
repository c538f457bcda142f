"""The fused C evaluation (engine/evolution/_fused.c): built, used where it applies, and
in agreement with a torch twin written here, on many random chains, data and genomes."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.core.chain import Chain
from engine.core.specs import ActivationSpec, LinearSpec, NetworkSpec, NormSpec, ResidualSpec
from engine.evolution import fused
from engine.evolution.population import PopulationEvaluator

CPU = torch.device("cpu")
# every copy of the kernel this CPU can run (AVX-512, AVX2 with FMA, the baseline)
COPIES = fused._fused.copies() if fused.available() else []


@pytest.fixture(params=COPIES)
def copy(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with one copy of the kernel in use, then put the best one back."""
    previous = fused._fused.use(request.param)
    yield request.param
    fused._fused.use(previous)


def test_the_kernel_is_built_for_this_cpu() -> None:
    """pip install -e . builds it (setup.py); without it every run falls back to torch."""
    assert fused.available(), "engine/evolution/_fused.c was not built (a C compiler?)"
    assert fused.instruction_set() == COPIES[0]  # the best this CPU runs
    assert COPIES[-1] == "baseline"


# ---- the twin: decode, forward and loss in float64 torch, from the codec's definition


def twin_values(codes: torch.Tensor, alpha: float) -> torch.Tensor:
    """A code's value: sign bit 3, exponent bits 0-2, (-1)^s α 2^-e, 0 at e = 7."""
    codes = codes.long()
    exponent = codes & 7
    magnitude = torch.where(exponent == 7, 0.0, alpha * 2.0 ** (-exponent.double()))
    return torch.where(codes & 8 != 0, -magnitude, magnitude)


def twin_losses(genomes: torch.Tensor, widths: list[int], activations: list[str | None],
                alphas: list[float], x: torch.Tensor, targets: torch.Tensor,
                loss: str) -> list[float]:
    losses = []
    for genome in genomes:
        h, at = x.double(), 0
        for number, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
            weight = twin_values(genome[at:at + fan_out * fan_in], alphas[number])
            at += fan_out * fan_in
            bias = twin_values(genome[at:at + fan_out], alphas[number])
            at += fan_out
            h = h @ weight.reshape(fan_out, fan_in).T + bias
            kind = activations[number]
            if kind == "tanh":
                h = torch.tanh(h)
            elif kind == "relu":
                h = torch.relu(h)
        if loss == "mse":
            value = F.mse_loss(h, targets.double())
        elif loss == "bce_with_logits":
            value = F.binary_cross_entropy_with_logits(h, targets.double())
        else:
            value = F.cross_entropy(h, targets)
        losses.append(float(value))
    return losses


def random_case(seed: int) -> tuple[Chain, list[int], list[str | None], list[float],
                                    torch.Tensor, torch.Tensor, str]:
    rng = np.random.default_rng(seed)
    loss = ["mse", "bce_with_logits", "cross_entropy"][seed % 3]
    inputs = int(rng.integers(1, 5))
    depth = int(rng.integers(1, 5))
    outputs = int(rng.integers(2, 4)) if loss == "cross_entropy" else int(rng.integers(1, 3))
    widths = [inputs, *(int(w) for w in rng.integers(1, 41, depth - 1)), outputs]
    activations: list[str | None] = [
        [None, "tanh", "relu", "identity"][int(k)] for k in rng.integers(0, 4, depth)]
    if seed % 4 == 0:
        activations[-1] = None
    layers: list = []
    for width, kind in zip(widths[1:], activations, strict=True):
        layers.append(LinearSpec(out_features=width))
        if kind:
            layers.append(ActivationSpec(kind=kind))
    chain = Chain(NetworkSpec(input_size=inputs, layers=layers), "float32",
                  torch.Generator().manual_seed(seed))
    samples = int(rng.choice([1, 5, 31, 32, 33, 100, 257]))
    scale = float(rng.choice([0.1, 1.0, 4.0]))  # 4: tanh saturates, logits grow large
    x = torch.from_numpy(rng.normal(0, scale, (samples, inputs)).astype(np.float32))
    alphas = [float(rng.choice([0.25, 0.5, 1.0, 2.0, 3.7])) for _ in range(depth)]
    if loss == "cross_entropy":
        targets = torch.from_numpy(rng.integers(0, outputs, samples)).long()
    elif loss == "bce_with_logits":
        targets = torch.from_numpy(rng.uniform(0, 1, (samples, outputs)).round(1)
                                   .astype(np.float32))
    else:
        targets = torch.from_numpy(rng.normal(0, 1, (samples, outputs)).astype(np.float32))
    return chain, widths, activations, alphas, x, targets, loss


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.usefixtures("copy")
def test_losses_agree_with_a_torch_twin(seed: int) -> None:
    chain, widths, activations, alphas, x, targets, loss = random_case(seed)
    evaluator = PopulationEvaluator(chain, x, targets, loss, alphas, CPU)
    assert evaluator.fused is not None  # every random case is one the kernel takes
    genomes = torch.randint(0, 16, (9, evaluator.layout.size), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(seed))
    expected = twin_losses(genomes, widths, activations, alphas, x, targets, loss)
    got = evaluator.losses(genomes)
    assert got.dtype == torch.float32
    # float32 sums over up to 40 inputs and a tanh within 5 ulp, against float64
    assert got.tolist() == pytest.approx(expected, rel=2e-5, abs=2e-6)


@pytest.mark.usefixtures("copy")
def test_losses_agree_with_the_torch_evaluation_on_the_benchmark_task() -> None:
    """2-16-16-1 tanh on 256 samples, the first layer from its table: both paths in
    float32, within a few float32 roundings of each other."""
    rng = torch.Generator().manual_seed(0)
    layers = [LinearSpec(out_features=16), ActivationSpec(kind="tanh"),
              LinearSpec(out_features=16), ActivationSpec(kind="tanh"),
              LinearSpec(out_features=1)]
    chain = Chain(NetworkSpec(input_size=2, layers=layers), "float32", rng)
    x = torch.randn(256, 2, generator=rng)
    y = (x[:, :1] * x[:, 1:] > 0).float()
    fast = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0] * 3, CPU)
    plain = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0] * 3, CPU, fuse=False)
    assert fast.fused is not None
    assert fast.fused.table.size
    assert plain.fused is None
    genomes = torch.randint(0, 16, (300, fast.layout.size), dtype=torch.uint8, generator=rng)
    assert torch.allclose(fast.losses(genomes), plain.losses(genomes), rtol=1e-6, atol=0)


@pytest.mark.usefixtures("copy")
def test_an_individuals_loss_does_not_depend_on_its_company() -> None:
    """Each genome is evaluated alone: one at a time, in pieces or all at once, the
    losses are the same bits (so a seed's history does not depend on the threads)."""
    chain, _, _, alphas, x, targets, loss = random_case(1)
    evaluator = PopulationEvaluator(chain, x, targets, loss, alphas, CPU)
    genomes = torch.randint(0, 16, (700, evaluator.layout.size), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(3))
    together = evaluator.losses(genomes)
    alone = torch.cat([evaluator.losses(genomes[k:k + 1]) for k in range(0, 700, 37)])
    assert torch.equal(alone, together[::37])


@pytest.mark.parametrize("layers", [
    [LinearSpec(out_features=4), NormSpec(kind="layer"), ActivationSpec(kind="tanh"),
     LinearSpec(out_features=1)],
    [LinearSpec(out_features=4), ActivationSpec(kind="sigmoid"), LinearSpec(out_features=1)],
    [LinearSpec(out_features=4), ActivationSpec(kind="tanh"), ActivationSpec(kind="relu"),
     LinearSpec(out_features=1)],
    [LinearSpec(out_features=4), ResidualSpec(layers=[LinearSpec(out_features=4)]),
     LinearSpec(out_features=1)],
])
def test_other_chains_keep_the_torch_evaluation(layers: list) -> None:
    chain = Chain(NetworkSpec(input_size=3, layers=layers), "float32", torch.Generator())
    x = torch.randn(8, 3)
    evaluator = PopulationEvaluator(chain, x, torch.rand(8, 1), "mse", [1.0] * 3, CPU)
    assert evaluator.fused is None


def test_float64_chains_keep_the_torch_evaluation() -> None:
    chain = Chain(NetworkSpec(input_size=2, layers=[LinearSpec(out_features=1)]), "float64",
                  torch.Generator())
    x = torch.randn(8, 2, dtype=torch.float64)
    evaluator = PopulationEvaluator(chain, x, torch.rand(8, 1, dtype=torch.float64), "mse",
                                    [1.0], CPU)
    assert evaluator.fused is None


@pytest.mark.usefixtures("copy")
def test_non_finite_outputs_give_non_finite_losses() -> None:
    """A relu chain whose outputs overflow: inf in mse, NaN where torch has one too."""
    layers = [LinearSpec(out_features=1), ActivationSpec(kind="relu")]
    chain = Chain(NetworkSpec(input_size=1, layers=layers), "float32", torch.Generator())
    x = torch.tensor([[3e38], [1.0]])
    evaluator = PopulationEvaluator(chain, x, torch.zeros(2, 1), "mse", [1.0], CPU)
    assert evaluator.fused is not None
    genomes = torch.tensor([[0, 0], [7, 7]], dtype=torch.uint8)  # weight 1 bias 1; all 0
    losses = evaluator.losses(genomes)
    assert math.isinf(float(losses[0]))
    assert float(losses[1]) == 0.0
    x = torch.tensor([[math.nan], [1.0]])
    evaluator = PopulationEvaluator(chain, x, torch.zeros(2, 1), "mse", [1.0], CPU)
    assert math.isnan(float(evaluator.losses(genomes)[0]))


def check_extreme_logits(dtype: str, fuse: bool, rel: float) -> None:
    """Logits from -80 to 80 (e^-|z| from 1 down to below float32's normals) and near 0,
    one sample per individual, against max(z, 0) - z y + log(1 + e^-|z|) in float64:
    torch's own form loses that last term beside the first two (0 where it is 1e-30 at
    z = -69; 3 % low at z = -11.3 in float32)."""
    layers = [LinearSpec(out_features=1)]
    chain = Chain(NetworkSpec(input_size=1, layers=layers), dtype, torch.Generator())
    logits = torch.cat([torch.linspace(-80, 80, 641), torch.tensor([1e-7, -1e-7, 0.0])])
    for target in (0.0, 0.3, 1.0):
        for z in logits.to(chain.dtype).tolist():
            x = torch.tensor([[z]], dtype=chain.dtype)
            y = torch.tensor([[target]], dtype=chain.dtype)
            exact_target = float(y)
            evaluator = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0], CPU,
                                            fuse=fuse)
            assert (evaluator.fused is not None) == fuse
            genome = torch.tensor([[0, 7]], dtype=torch.uint8)  # weight 1, bias 0
            expected = max(z, 0.0) - z * exact_target + math.log1p(math.exp(-abs(z)))
            got = float(evaluator.losses(genome)[0])
            assert got == pytest.approx(expected, rel=rel, abs=1e-300), (z, target)


@pytest.mark.usefixtures("copy")
def test_extreme_logits_keep_the_binary_cross_entropy_exact() -> None:
    check_extreme_logits("float32", fuse=True, rel=4 * 2.0 ** -23)


@pytest.mark.parametrize(("dtype", "rel"), [("float32", 4 * 2.0 ** -23),
                                            ("float64", 4 * 2.0 ** -52)])
def test_the_torch_evaluations_binary_cross_entropy_is_exact_too(dtype: str,
                                                                 rel: float) -> None:
    """Its mean((1 - y) z) - mean(log σ(z)) was off by |z| eps either way: the GA chased
    that noise below 0 (best loss -3.8e-6 where the network's was 4.9e-15)."""
    check_extreme_logits(dtype, fuse=False, rel=rel)


def _arguments() -> np.ndarray:
    rng = np.random.default_rng(0)
    values = np.concatenate([np.linspace(-20, 20, 400_000), rng.normal(0, 3, 200_000),
                             rng.normal(0, 1e-3, 50_000), rng.normal(0, 1e-9, 4_952),
                             [0.0, -0.0, 1e-30, 9.0, 9.1, 20.0, 1e4, -1e4],
                             # tiny and subnormal: x * P once underflowed (43 ulp at 1e-40)
                             [1e-36, 2.4e-36, 2e-38, 1.2e-38, 1e-40, 5e-45, 1.4e-45, -1e-40,
                              -2e-38, -5e-45, 3e-39, -3e-39, 1e-37, -1e-37, 7e-41, -7e-41]])
    return values.astype(np.float32)


def test_the_kernels_tanh_is_within_five_ulp_and_odd(copy: str) -> None:
    """Within 5 ulp with fused multiply-adds, 7 with the baseline's separate roundings."""
    x = _arguments()
    values = x.copy()
    fused._fused.tanh(values)
    exact = np.tanh(x.astype(np.longdouble))
    ulp = np.spacing(np.abs(exact.astype(np.float32))).astype(np.longdouble)
    bound = 7 if copy == "baseline" else 5
    assert np.max(np.abs(values.astype(np.longdouble) - exact) / ulp) <= bound
    assert np.array_equal(np.signbit(values), np.signbit(x))
    special = np.array([np.inf, -np.inf, np.nan] + [0.0] * 61, dtype=np.float32)
    fused._fused.tanh(special)
    # ±1 within the same bound (ulps of the float32 just below 1, 2^-24)
    assert abs(special[0] - 1.0) <= bound * 2.0 ** -24
    assert special[1] == -special[0]
    assert np.isnan(special[2])


@pytest.mark.usefixtures("copy")
def test_infinite_logits_give_what_torch_gives() -> None:
    """inf or NaN as torch's (1 - y) z + max(-z, 0) + log(1 + e^-|z|) gives them."""
    chain = Chain(NetworkSpec(input_size=1, layers=[LinearSpec(out_features=1)]), "float32",
                  torch.Generator())
    for z in (math.inf, -math.inf):
        for target in (0.0, 0.5, 1.0):
            x = torch.tensor([[z], [0.0]])
            y = torch.tensor([[target], [target]])
            evaluator = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0], CPU)
            got = float(evaluator.losses(torch.tensor([[0, 7]], dtype=torch.uint8))[0])
            expected = float(F.binary_cross_entropy_with_logits(x.double(), y.double()))
            assert got == expected or (math.isnan(got) and math.isnan(expected)), (z, target)


def test_a_first_layer_wider_than_any_fixed_limit_is_evaluated() -> None:
    """5 000 units looked up from the table (a fixed array of 4 096 row pointers raised)."""
    layers = [LinearSpec(out_features=5000), ActivationSpec(kind="tanh"),
              LinearSpec(out_features=1)]
    chain = Chain(NetworkSpec(input_size=2, layers=layers), "float32", torch.Generator())
    x, y = torch.randn(40, 2), torch.randn(40, 1)
    fast = PopulationEvaluator(chain, x, y, "mse", [1.0, 0.01], CPU)
    plain = PopulationEvaluator(chain, x, y, "mse", [1.0, 0.01], CPU, fuse=False)
    assert fast.fused is not None
    assert fast.fused.table.size
    genomes = torch.randint(0, 16, (3, fast.layout.size), dtype=torch.uint8)
    assert torch.allclose(fast.losses(genomes), plain.losses(genomes), rtol=1e-5)


def test_cross_entropys_outputs_go_through_a_chunk_at_a_time() -> None:
    """The kernel leaves cross-entropy to torch from its outputs: those of a chunk of
    individuals at a time (about 2 MB), not of a whole piece (N/8 individuals)."""
    layers = [LinearSpec(out_features=8), ActivationSpec(kind="tanh"),
              LinearSpec(out_features=8)]
    chain = Chain(NetworkSpec(input_size=3, layers=layers), "float32", torch.Generator())
    samples = 5000
    x = torch.randn(samples, 3)
    y = torch.randint(0, 8, (samples,))
    evaluator = PopulationEvaluator(chain, x, y, "cross_entropy", [1.0, 1.0], CPU)
    plain = PopulationEvaluator(chain, x, y, "cross_entropy", [1.0, 1.0], CPU, fuse=False)
    assert evaluator.fused is not None
    assert evaluator.fused.loss == 0
    genomes = torch.randint(0, 16, (400, evaluator.layout.size), dtype=torch.uint8)
    assert evaluator.chunk < 400  # so that a piece would hold several chunks
    losses = evaluator.losses(genomes)
    largest = max(buffer.numel() for lane in evaluator._lanes.values()
                  for buffer in lane.values())
    assert largest <= evaluator.chunk * 8 * samples
    assert torch.allclose(losses, plain.losses(genomes), rtol=1e-5)


def test_targets_the_torch_path_would_broadcast_keep_it() -> None:
    chain = Chain(NetworkSpec(input_size=2, layers=[LinearSpec(out_features=2)]), "float32",
                  torch.Generator())
    x = torch.randn(8, 2)
    evaluator = PopulationEvaluator(chain, x, torch.randn(8, 1), "mse", [1.0], CPU)
    assert evaluator.fused is None


def test_the_kernel_refuses_buffers_that_do_not_match_its_layers() -> None:
    chain, *_ = random_case(2)
    x = torch.randn(40, chain.spec.input_size)
    targets = torch.randn(40, chain.output_size)
    plan = PopulationEvaluator(chain, x, targets, "mse", [1.0] * 8, CPU).fused
    assert plan is not None
    genomes = np.zeros((3, 1 + sum(o * i + o for i, o in zip(plan.in_features,
                                                              plan.out_features,
                                                              strict=True))), np.uint8)
    with pytest.raises(ValueError, match="buffer sizes"):
        plan.outputs(genomes, np.empty(4, np.float32))  # one code too many per genome
    with pytest.raises(ValueError, match="buffer sizes"):
        plan.outputs(np.ascontiguousarray(genomes[:, :-1]), np.empty(4, np.float32))  # 3, not 4
    arguments = (plan.code_values, plan.inputs, plan.table, plan.targets, plan.powers,
                 plan.in_features, plan.out_features, plan.weight_at, plan.activations,
                 plan.alphas)
    genomes = np.ascontiguousarray(genomes[:, :-1])
    out = np.empty(3, np.float32)
    kernel = fused._fused.outputs
    kernel(genomes, out, *arguments, plan.samples, plan.loss)  # as they are: fine
    with pytest.raises(ValueError, match="buffer sizes"):  # targets of another length
        kernel(genomes, out, *arguments[:3], plan.targets[:, :-64], *arguments[4:],
               plan.samples, plan.loss)
    with pytest.raises(ValueError, match="samples from 1"):  # sizes that would overflow
        kernel(genomes, out, *arguments, 2 ** 62, plan.loss)
    with pytest.raises(ValueError, match="activations"):
        kernel(genomes, out, *arguments[:8], [3] * len(plan.activations), arguments[9],
               plan.samples, plan.loss)
    with pytest.raises(ValueError, match="out of range"):
        kernel(genomes, out, *arguments[:5], [2 ** 32 + 1] * len(plan.in_features),
               *arguments[6:], plan.samples, plan.loss)
    with pytest.raises(ValueError, match="powers"):
        kernel(genomes, out, *arguments[:4], [16, 17], *arguments[5:], plan.samples,
               plan.loss)
