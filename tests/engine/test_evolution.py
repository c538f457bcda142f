"""The genetic algorithm: operator statistics, elitism, determinism, batched evaluation."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.losses import prepare_targets
from engine.core.specs import ActivationSpec, LinearSpec, NetworkSpec, NormSpec
from engine.core.stepper import Pass
from engine.data.tasks import EvolveTask
from engine.evolution import ga_arrays
from engine.evolution.ga import Population, evolve, resolve_device
from engine.evolution.ga_arrays import NumpyArrays, TorchArrays
from engine.evolution.genome import GenomeLayout, load_genome
from engine.evolution.population import PopulationEvaluator
from engine.evolution.population_plan import LinearStep, TableStep


def setup(loss: str = "bce_with_logits", norm: str | None = None,
          samples: int = 32) -> tuple[Chain, PopulationEvaluator]:
    layers: list = [LinearSpec(out_features=6)]
    if norm:
        layers.append(NormSpec(kind=norm))
    layers += [ActivationSpec(kind="tanh"),
               LinearSpec(out_features=2 if loss == "cross_entropy" else 1)]
    chain = Chain(NetworkSpec(input_size=2, layers=layers), "float64",
                  torch.Generator().manual_seed(0))
    rng = torch.Generator().manual_seed(1)
    x = torch.randn(samples, 2, generator=rng, dtype=torch.float64)
    raw = (x[:, 0] * x[:, 1] > 0).double()
    targets = prepare_targets(loss, raw if loss != "mse" else x[:, :1] * 0.5,
                              chain.output_size)
    return chain, PopulationEvaluator(chain, x, targets, loss, [1.0, 0.5], torch.device("cpu"))


@pytest.mark.parametrize("loss", ["bce_with_logits", "mse", "cross_entropy"])
@pytest.mark.parametrize("norm", [None, "batch", "layer", "rms", "l2"])
def test_batched_losses_equal_the_ordinary_forward_pass(loss: str, norm: str | None) -> None:
    chain, evaluator = setup(loss, norm)
    genomes = torch.randint(0, 16, (7, evaluator.layout.size), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(2))
    batched = evaluator.losses(genomes)
    for row, genome in enumerate(genomes):
        load_genome(chain, genome, [1.0, 0.5])
        single = Pass(chain, evaluator.inputs, evaluator.targets, loss).run().loss
        assert float(batched[row]) == pytest.approx(float(single), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("seed", range(5))
def test_chunked_evaluation_matches_unchunked(seed: int) -> None:
    """Chunks change only the order of floating-point sums: the results agree to a few
    ulps (bitwise equality failed ~2 runs in 3: MKL's kernels depend on the batch)."""
    _, evaluator = setup()
    genomes = torch.randint(0, 16, (50, evaluator.layout.size), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(seed))
    whole = evaluator.losses(genomes)
    evaluator.chunk = 7
    chunked = evaluator.losses(genomes)
    assert torch.allclose(chunked, whole, rtol=1e-14, atol=0)


# The GA's arrays: numpy's on the CPU, torch's on a GPU (run here on the CPU); the
# operator tests run on both.
BACKENDS = ["numpy", "torch"]


def population(task: EvolveTask, seed: int = 0, backend: str = "numpy") -> Population:
    _, evaluator = setup()
    arrays = NumpyArrays(seed) if backend == "numpy" else TorchArrays(torch.device("cpu"), seed)
    return Population(evaluator, task, seed, arrays=arrays)


def as_numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    return array.numpy() if isinstance(array, torch.Tensor) else np.asarray(array)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rate", [0.015, 0.05, 0.3])
def test_mutation_flips_each_bit_at_the_rate(rate: float, backend: str) -> None:
    pop = population(EvolveTask(population=10, mutation_rate=rate), backend=backend)
    masks = as_numpy(pop._mutation_masks((4000, 50)))
    bits = np.unpackbits(masks.reshape(-1, 1), axis=1)[:, 4:]  # low 4 bits
    assert masks.max() < 16
    n = bits.size
    assert abs(bits.mean() - rate) < 5 * math.sqrt(rate * (1 - rate) / n)
    # every bit position flips at the same rate, independently of its neighbours
    per_bit = bits.mean(0)
    assert np.all(np.abs(per_bit - rate) < 5 * math.sqrt(rate * (1 - rate) / (n / 4)))
    both = (bits[:, 0] & bits[:, 1]).mean()
    assert abs(both - rate**2) < 5 * math.sqrt(rate**2 / (n / 4)) + 1e-4


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_mutation_at_rate_zero_and_all_bits_at_one(backend: str) -> None:
    assert as_numpy(population(EvolveTask(mutation_rate=0.0), backend=backend)
                    ._mutation_masks((10, 10))).sum() == 0
    assert np.all(as_numpy(population(EvolveTask(mutation_rate=1.0), backend=backend)
                           ._mutation_masks((10, 10))) == 15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_crossover_takes_each_code_from_one_parent_half_the_time(backend: str) -> None:
    pop = population(EvolveTask(population=200, elite=0, mutation_rate=0.0),
                     backend=backend)
    old = as_numpy(pop.codes).copy()
    pop.step()
    lineage = pop.lineage
    assert lineage is not None
    a, b = old[lineage.parents[0]], old[lineage.parents[1]]
    child = lineage.child_codes
    mask = lineage.from_first_parent
    assert np.array_equal(child, np.where(mask, a, b))
    assert np.array_equal(as_numpy(pop.codes[0]), child)
    masks = as_numpy(pop._coin_flips(2000, 37))
    assert set(np.unique(masks)) == {0x00, 0xFF}
    coins = masks == 0xFF
    assert abs(coins.mean() - 0.5) < 0.01
    assert abs(coins[:, 0].mean() - 0.5) < 0.05


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_children_are_complementary_and_no_crossover_copies(backend: str) -> None:
    pop = population(EvolveTask(population=50, elite=0, mutation_rate=0.0,
                                children_per_pair=2), backend=backend)
    old = as_numpy(pop.codes).copy()
    pop.step()
    lineage = pop.lineage
    a, b = old[lineage.parents[0]], old[lineage.parents[1]]
    assert np.array_equal(as_numpy(pop.codes[0]), np.where(lineage.from_first_parent, a, b))
    assert np.array_equal(as_numpy(pop.codes[1]), np.where(lineage.from_first_parent, b, a))
    copy = population(EvolveTask(population=50, elite=0, mutation_rate=0.0, crossover=False),
                      backend=backend)
    before = as_numpy(copy.codes).copy()
    copy.step()
    parents = copy.lineage.parents
    assert np.array_equal(as_numpy(copy.codes[0]), before[parents[0]])
    assert np.array_equal(as_numpy(copy.codes[1]), before[parents[1]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_elites_are_copied_unchanged(backend: str) -> None:
    pop = population(EvolveTask(population=30, elite=3, mutation_rate=0.5), backend=backend)
    losses = as_numpy(pop.losses).copy()
    order = np.argsort(losses, kind="stable")
    best = as_numpy(pop.codes)[order[:3]].copy()
    pop.step()
    assert np.array_equal(as_numpy(pop.codes[:3]), best)
    assert np.array_equal(as_numpy(pop.losses[:3]), losses[order[:3]])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("count", [1, 2])
def test_the_best_leave_as_copies_and_arrivals_replace_the_worst(backend: str,
                                                                  count: int) -> None:
    pop = population(EvolveTask(population=12, elite=1), backend=backend)
    codes, losses = as_numpy(pop.codes).copy(), as_numpy(pop.losses).copy()
    order = np.argsort(losses, kind="stable")
    best_codes, best_losses = pop.best(3)
    assert np.array_equal(best_codes, codes[order[:3]])
    assert np.array_equal(best_losses, losses[order[:3]])
    best_codes[:] = 0  # a copy: the population keeps its own
    assert np.array_equal(as_numpy(pop.codes), codes)
    arrivals = np.stack([np.full(codes.shape[1], 7 + 2 * k, dtype=np.uint8)
                         for k in range(count)])  # 7, then 9
    arrivals.flags.writeable = False  # as they come out of Ray's object store
    arrival_losses = np.array([-2.0, -1.0][:count])
    arrival_losses.flags.writeable = False
    pop.replace_worst(arrivals, arrival_losses)
    worst_first = order[::-1][:count]
    for k, slot in enumerate(worst_first):
        assert np.all(as_numpy(pop.codes)[slot] == 7 + 2 * k)
        assert as_numpy(pop.losses)[slot] == arrival_losses[k]
    assert int(as_numpy(pop.order())[0]) == order[-1]  # sorted again
    others = order[:-count]
    assert np.array_equal(as_numpy(pop.codes)[others], codes[others])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("selection", ["uniform", "tournament", "rank"])
def test_selection_prefers_the_fit(selection: str, backend: str) -> None:
    pop = population(EvolveTask(population=100, selection=selection, tournament_size=4),
                     backend=backend)
    # individual i has rank i
    pop.losses = pop.arrays.losses_from(np.arange(100, dtype=np.float64), pop.losses)
    pop.forget_order()
    picks = torch.as_tensor(as_numpy(pop.select_parents(20000))).double()
    if selection == "uniform":
        assert abs(picks.mean() - 49.5) < 1.5
    elif selection == "tournament":
        # the best of 4 uniform draws: E[min] = sum_k P(min >= k)
        expected = sum(((100 - k) / 100) ** 4 for k in range(1, 100))
        assert abs(picks.mean() - expected) < 1.0
    else:
        weights = torch.arange(100, 0, -1).double()
        expected = float((weights * torch.arange(100)).sum() / weights.sum())
        assert abs(picks.mean() - expected) < 1.5


def test_small_cpu_populations_run_on_numpy_and_large_ones_on_torch() -> None:
    cpu = torch.device("cpu")
    assert isinstance(ga_arrays.arrays_for(cpu, 0, ga_arrays.NUMPY_MAX_CODES), NumpyArrays)
    large = ga_arrays.arrays_for(cpu, 0, ga_arrays.NUMPY_MAX_CODES + 1)
    assert isinstance(large, TorchArrays)
    assert large.device == cpu
    _, evaluator = setup()
    few = Population(evaluator, EvolveTask(population=10), 0)
    assert isinstance(few.codes, np.ndarray)
    assert isinstance(few.losses, np.ndarray)


@pytest.mark.parametrize("backend", BACKENDS)
def test_best_loss_never_rises_and_history_is_deterministic(
        backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend == "torch":  # as a large population would
        monkeypatch.setattr(ga_arrays, "NUMPY_MAX_CODES", 0)
    _, evaluator = setup()
    task = EvolveTask(population=40, elite=2, generations=25, mutation_rate=0.05)
    first = list(evolve(evaluator, task, seed=3))
    second = list(evolve(evaluator, task, seed=3))
    other = list(evolve(evaluator, task, seed=4))
    best = [s.best for s in first]
    assert len(first) == 26
    assert all(b2 <= b1 for b1, b2 in itertools.pairwise(best))
    assert best == [s.best for s in second]
    assert [s.mean for s in first] == [s.mean for s in second]
    assert np.array_equal(first[-1].best_genome, second[-1].best_genome)
    assert best != [s.best for s in other]
    assert first[-1].evaluations == 40 + 25 * 38
    # the best genome is real: the evaluator gives it the loss reported
    genome = torch.as_tensor(first[-1].best_genome).reshape(1, -1)
    assert float(evaluator.losses(genome)[0]) == pytest.approx(first[-1].best, rel=1e-13)
    assert isinstance(Population(evaluator, task, 0).codes,
                      torch.Tensor if backend == "torch" else np.ndarray)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("packed", [True, False])  # bit counts packed in int64 fields or not
@pytest.mark.parametrize("size", [2, 12, 255, 600])  # counts go by blocks of 255 rows
def test_diversity_is_the_mean_pairwise_hamming_distance(
        size: int, packed: bool, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not packed:  # the path of populations too large for 16-bit fields
        monkeypatch.setattr(ga_arrays, "PACKED_COUNT_LIMIT", 1)
    pop = population(EvolveTask(population=size), backend=backend)
    codes = as_numpy(pop.codes)
    bits = np.unpackbits(codes[:, :, None], axis=2)[:, :, 4:].reshape(size, -1)
    # each pair once: the Gram matrices of the bits and of their complements count the
    # positions where both are 1 and both are 0
    ones = bits.astype(np.int64)
    same = ones @ ones.T + (1 - ones) @ (1 - ones).T
    upper = np.triu_indices(size, 1)
    assert pop.diversity() == pytest.approx(np.mean(bits.shape[1] - same[upper]), rel=1e-12)


@pytest.mark.parametrize("losses", [
    [0.5, 0.25, 2.0, 1.0], [0.5, math.nan, 0.25, math.inf], [math.nan, math.nan, 3.0],
    [math.inf, math.inf], [4.0, math.nan]])
@pytest.mark.parametrize("backend", BACKENDS)
def test_statistics_summarise_the_finite_losses(losses: list[float], backend: str) -> None:
    """Best and worst of all (NaN counts as inf), mean and sample standard deviation of
    the finite ones (inf and 0 when there are too few)."""
    pop = population(EvolveTask(population=len(losses), elite=1), backend=backend)
    # as the evaluation leaves them: NaN is inf
    pop.losses = pop.arrays.losses_from(
        np.nan_to_num(np.array(losses), nan=math.inf, posinf=math.inf), pop.losses)
    pop.forget_order()
    stats = pop.stats(0, 0.0)
    ordered = sorted(math.inf if math.isnan(v) else v for v in losses)
    finite = np.array([v for v in losses if math.isfinite(v)])
    assert (stats.best, stats.worst) == (ordered[0], ordered[-1])
    assert stats.mean == (pytest.approx(finite.mean(), rel=1e-15) if len(finite) else math.inf)
    assert stats.std == (pytest.approx(finite.std(ddof=1), rel=1e-15) if len(finite) > 1
                         else 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_non_finite_loss_counts_as_the_worst(backend: str) -> None:
    """NaN, inf and −inf (a broken network, not a perfect one) all become +inf."""

    class Broken:
        def losses(self, genomes: torch.Tensor) -> torch.Tensor:
            return torch.tensor([0.5, math.nan, math.inf, -math.inf, 0.25],
                                dtype=torch.float32)

    arrays = population(EvolveTask(population=2), backend=backend).arrays
    codes = arrays.asarray(np.zeros((5, 3), dtype=np.uint8))
    got = as_numpy(arrays.losses(Broken(), codes))
    assert got.tolist() == [0.5, math.inf, math.inf, math.inf, 0.25]
    ordered, _ = arrays.sort(arrays.losses(Broken(), codes))
    best, worst, mean, std = arrays.summary(arrays.losses(Broken(), codes), ordered)
    assert (best, worst, mean) == (0.25, math.inf, 0.375)
    assert std == pytest.approx(np.std([0.5, 0.25], ddof=1), rel=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_float32_losses_do_not_overflow_the_moments(backend: str) -> None:
    arrays = population(EvolveTask(population=2), backend=backend).arrays
    values = np.full(10_000, 1e35, dtype=np.float32)
    values[0] = 2e35
    losses = arrays.losses_from(values, arrays.asarray(np.zeros(1)).float()
                                if backend == "torch" else values)
    ordered, _ = arrays.sort(losses)
    _, _, mean, std = arrays.summary(losses, ordered)
    exact = values.astype(np.float64)
    assert mean == pytest.approx(exact.mean(), rel=1e-6)
    assert std == pytest.approx(exact.std(ddof=1), rel=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rate", [1e-300, 1e-4, 0.003, 0.05])
def test_sparse_mutation_flips_the_bits_of_geometric_gaps(rate: float, backend: str) -> None:
    """The mask holds exactly the bits at the successes of a Bernoulli process drawn as
    geometric gaps (the backend's Geometric(p) draws, in the same batches as the
    engine's)."""
    pop = population(EvolveTask(population=30, mutation_rate=rate), backend=backend)
    shape = (30, pop.codes.shape[1])
    total = math.prod(shape) * 4
    draws = copy.deepcopy(pop.arrays)  # the same generator state
    masks = as_numpy(pop._mutation_masks(shape)).reshape(-1)
    expected = np.zeros(math.prod(shape), dtype=np.uint8)
    position = -1
    while True:  # the same draws, in the same batches as the engine takes them
        remaining = max((total - position) * rate, 1.0) if position >= 0 else total * rate
        count = int(remaining + 6 * math.sqrt(remaining) + 16)
        gaps = as_numpy(draws.geometric(rate, count, total)).tolist()
        for gap in gaps:
            assert 1 <= gap <= total + 1 or rate >= 1e-12
            position += int(gap)
            if position >= total:
                break
            expected[position // 4] |= 1 << (position % 4)
        if position >= total:
            break
    assert np.array_equal(masks, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rate", [1e-300, 0.05, 0.5])
def test_geometric_gaps_have_the_geometric_law(rate: float, backend: str) -> None:
    """Trials up to and including the first success: mean 1/p, at least 1, and at tiny
    rates clamped just past the end instead of wrapping."""
    arrays = population(EvolveTask(population=2), backend=backend).arrays
    gaps = as_numpy(arrays.geometric(rate, 20000, 1000)).astype(np.float64)
    assert gaps.min() >= 1
    if rate < 1e-12:
        assert np.all(gaps == 1001)
    else:
        sd = math.sqrt((1 - rate) / rate**2 / len(gaps))
        assert abs(gaps.mean() - 1 / rate) < 5 * sd


def test_cuda_request_falls_back_with_a_note() -> None:
    device, note = resolve_device("cuda")
    if torch.cuda.is_available():
        assert device.type == "cuda"
    else:
        assert device.type == "cpu"
        assert "CUDA" in note


def test_layout_places_weights_then_biases_layer_by_layer() -> None:
    """Against a hand count for 2 → 6 → 1: 12 weights and 6 biases, then 6 and 1."""
    chain, evaluator = setup()
    expected = GenomeLayout(layers=(0, 2), shapes=((6, 2), (1, 6)), offsets=(0, 18), size=25)
    assert GenomeLayout.of(chain) == expected
    assert evaluator.layout == expected
    genome = torch.arange(25, dtype=torch.uint8) % 16
    weight, bias = expected.slices(genome.reshape(1, -1), 1)
    assert weight.tolist() == [[[18 % 16, 19 % 16, 20 % 16, 21 % 16, 22 % 16, 23 % 16]]]
    assert bias.tolist() == [[24 % 16]]


def ordinary_losses(chain: Chain, genomes: torch.Tensor, scales: list[float],
                    x: torch.Tensor, y: torch.Tensor, loss: str) -> list[float]:
    losses = []
    for genome in genomes:
        load_genome(chain, genome, scales)
        losses.append(float(Pass(chain, x, y, loss).run().loss))
    return losses


@pytest.mark.parametrize("kind", ["tanh", "sigmoid", "relu", "leaky_relu", "elu", "identity",
                                  "gelu", "silu", "softplus"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("inputs", [2, 3])
def test_looked_up_and_computed_first_layers_give_the_ordinary_losses(
        kind: str, dtype: str, inputs: int) -> None:
    layers: list = []
    for width in (5, 4, 1):
        layers += [LinearSpec(out_features=width), ActivationSpec(kind=kind)]
    layers.append(LinearSpec(out_features=1))
    chain = Chain(NetworkSpec(input_size=inputs, layers=layers), dtype, torch.Generator())
    x = torch.randn(20, inputs, generator=torch.Generator().manual_seed(0)).to(chain.dtype)
    y = torch.randn(20, 1, generator=torch.Generator().manual_seed(1)).to(chain.dtype)
    scales = [1.0, 0.5, 2.0, 1.0]
    looked_up = PopulationEvaluator(chain, x, y, "mse", scales, torch.device("cpu"))
    # a 2-input first layer is a table of 16³ rows; a 3-input one (16⁴) is computed
    assert isinstance(looked_up.plan.steps[0], TableStep) == (inputs == 2)
    computed = PopulationEvaluator(chain, x, y, "mse", scales, torch.device("cpu"),
                                   look_up_first_layer=False)
    assert isinstance(computed.plan.steps[0], LinearStep)
    genomes = torch.randint(0, 16, (6, looked_up.layout.size), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(2))
    expected = ordinary_losses(chain, genomes, scales, x, y, "mse")
    rel = 1e-12 if dtype == "float64" else 2e-5
    for evaluator in (looked_up, computed):
        assert evaluator.losses(genomes).tolist() == pytest.approx(expected, rel=rel, abs=1e-12)


@pytest.mark.parametrize("prefix", [[NormSpec(kind="batch")], [ActivationSpec(kind="tanh")],
                                    [NormSpec(kind="layer"), ActivationSpec(kind="sigmoid")]])
def test_layers_before_the_first_linear_one_act_on_the_shared_data(prefix: list) -> None:
    layers = [*prefix, LinearSpec(out_features=3), ActivationSpec(kind="relu"),
              LinearSpec(out_features=2)]
    chain = Chain(NetworkSpec(input_size=2, layers=layers), "float64", torch.Generator())
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x_before = x.clone()
    y = prepare_targets("cross_entropy", (x[:, 0] > 0).double(), 2)
    evaluator = PopulationEvaluator(chain, x, y, "cross_entropy", [1.0, 1.0],
                                    torch.device("cpu"))
    genomes = torch.randint(0, 16, (5, evaluator.layout.size), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(3))
    expected = ordinary_losses(chain, genomes, [1.0, 1.0], x, y, "cross_entropy")
    assert evaluator.losses(genomes).tolist() == pytest.approx(expected, rel=1e-12)
    assert torch.equal(x, x_before)  # the prefix ran on a copy


def test_a_chain_without_linear_layers_has_one_loss_for_all() -> None:
    chain = Chain(NetworkSpec(input_size=1, layers=[ActivationSpec(kind="tanh")]), "float64",
                  torch.Generator())
    x = torch.linspace(-1, 1, 8, dtype=torch.float64)[:, None]
    evaluator = PopulationEvaluator(chain, x, x * 0.5, "mse", [], torch.device("cpu"))
    losses = evaluator.losses(torch.zeros(3, 0, dtype=torch.uint8))
    expected = float(((torch.tanh(x) - x * 0.5) ** 2).mean())
    assert losses.tolist() == pytest.approx([expected] * 3, rel=1e-12)


def test_a_population_seeded_from_a_float_network_starts_at_its_quantised_loss() -> None:
    from engine.data.session import parse_session
    from engine.evolution.comparison import quantisation_report
    from engine.headless.runner import run_session

    text = """{"format": "chainlab/1", "seed": 3, "dtype": "float64",
      "network": {"input_size": 2, "layers": [
        {"type": "linear", "out_features": 4}, {"type": "activation", "kind": "tanh"},
        {"type": "linear", "out_features": 1}]},
      "data": {"dataset": "circle", "samples": 40},
      "loss": "bce_with_logits",
      "task": {"kind": "evolve", "population": 20, "generations": 3,
               "seed_from_network": true, "scales": [0.5, 1.0]}}"""
    session = parse_session(text)
    result = run_session(session).result
    from engine.data.experiment import build_experiment

    experiment = build_experiment(session)
    report = quantisation_report(experiment.chain, [0.5, 1.0], experiment.inputs,
                                 experiment.targets, "bce_with_logits")
    assert result["history"]["best"][0] <= report.quantised_loss + 1e-12
    assert result["scales"] == [0.5, 1.0]
