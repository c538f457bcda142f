"""The fused evaluation of a plain chain: one C call for a population's outputs.

The torch evaluation (:mod:`engine.evolution.population`) makes some 25 calls a
generation, each a pass over every individual's activations; at N = 100 their fixed
costs are about a third of its time, and each call's output goes out to memory and back.
The C kernel (``_fused.c`` with ``fused_kernel.h``, built by ``pip install -e .``) takes
one individual at a time instead, 32 or 64 samples at a time, every layer's activations in
registers and the L1 cache, and lets go of the GIL, so the chunk pool's threads evaluate
pieces side by side. Measured on the benchmark's task in bench/bench_evolution.py.

It applies to a float32 chain on the CPU that is, after any layers acting on the data
alone, linear layers each followed by at most one tanh, ReLU or identity (a first layer
looked up from its table may have any activation: the table holds it): the common case,
and the benchmark's. Anything else (norms, residual blocks, other activations,
float64, a GPU) or a build without the extension keeps the torch evaluation. The kernel
takes the mean squared error and the binary cross-entropy with logits itself (Cephes'
exp and log, within 2 ulp); for cross-entropy it writes the outputs and the evaluator
takes the loss with torch.

The kernel's tanh is Eigen's rational approximation, within 5 units in the last place
(7 on a CPU without fused multiply-adds; numpy's, which the torch path uses, within
1.5): the losses agree with the torch path's to about 1e-6 relative, tiny bce losses
included (both take it per element in the exact form)
(tests/engine/test_fused_evaluation.py, which checks every copy of the kernel the CPU
runs: AVX-512, AVX2 with FMA, and the portable baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch

from engine.core.layers import Activation
from engine.evolution.population_plan import EvaluationPlan, LinearStep, TableStep

_fused: ModuleType | None
try:
    from engine.evolution import _fused  # type: ignore[attr-defined, no-redef]
except ImportError:  # not built (no C compiler when installed): the torch path runs
    _fused = None

PAD = 64  # rows are padded to a multiple of this many samples (the kernel's blocks)
ACTIVATION_CODES = {"identity": 0, "tanh": 1, "relu": 2}
LOSS_CODES = {"mse": 1, "bce_with_logits": 2}  # the losses the kernel computes itself
MAX_LAYERS = 64  # the kernel's limit


def available() -> bool:
    """Whether the C extension was built and imports."""
    return _fused is not None


def instruction_set() -> str:
    """The kernel copy this CPU runs ("avx512", "avx2+fma" or "baseline"), or "" when not
    built."""
    return _fused.instruction_set() if _fused is not None else ""


@dataclass(frozen=True)
class FusedPlan:
    """What the kernel needs for one chain and dataset: the linear layers, the shared data
    (and the first layer's table) padded to whole blocks."""

    in_features: list[int]
    out_features: list[int]
    weight_at: list[int]  # genome position of each layer's weights (its bias follows)
    activations: list[int]  # ACTIVATION_CODES of what follows each layer
    alphas: list[float]
    inputs: np.ndarray  # (in, padded) float32
    table: np.ndarray  # (rows, padded) float32, or empty when the first layer is a product
    powers: list[int]  # the first layer's weight digits' place values (table only)
    code_values: np.ndarray  # (16,) float32
    samples: int
    loss: int  # LOSS_CODES' or 0: the kernel writes outputs, the evaluator takes the loss
    targets: np.ndarray  # (width, padded) float32 for a loss, else empty

    @property
    def width(self) -> int:
        """Outputs per sample."""
        return self.out_features[-1]

    def outputs(self, codes: np.ndarray, out: np.ndarray) -> None:
        """Write the mean losses (N,) of ``codes`` (N, genome) uint8 into ``out`` (float32,
        C-contiguous) or, where ``loss`` is 0, their outputs (N, width, samples). Lets go
        of the GIL while it computes."""
        assert _fused is not None
        _fused.outputs(codes, out, self.code_values, self.inputs, self.table, self.targets,
                       self.powers, self.in_features, self.out_features, self.weight_at,
                       self.activations, self.alphas, self.samples, self.loss)


def fused_plan(plan: EvaluationPlan, shared: torch.Tensor, loss: str,
               targets: torch.Tensor) -> FusedPlan | None:
    """The kernel's plan for ``plan`` on ``shared`` (in, samples), or None where the kernel
    does not apply (see the module's docstring). ``targets`` are laid out as the outputs,
    (width, samples), for the losses the kernel computes."""
    if _fused is None or shared.device.type != "cpu" or shared.dtype != torch.float32:
        return None
    layers: list[list[int]] = []  # [in, out, weight_at, activation] per linear layer
    alphas: list[float] = []
    table = np.zeros((0, 0), np.float32)
    powers: list[int] = []
    activation_free = False  # may the step just read set the last layer's activation?
    for step in plan.steps:
        if isinstance(step, TableStep):
            if layers:
                return None
            layers.append([step.in_features, step.out_features, step.weight_at, 0])
            alphas.append(1.0)  # the table holds the scaled layer already
            table = _padded(step.table)
            powers = [int(power) for power in step.powers.tolist()]
            activation_free = False  # the table holds the activation after it too
        elif isinstance(step, LinearStep):
            layers.append([step.in_features, step.out_features,
                           step.weight_at + plan.decode_from, 0])
            alphas.append(step.alpha)
            activation_free = True
        elif (isinstance(step, Activation) and step.kind in ACTIVATION_CODES
              and activation_free):
            layers[-1][3] = ACTIVATION_CODES[step.kind]
            activation_free = False
        else:
            return None
    if not layers or len(layers) > MAX_LAYERS:
        return None
    if loss in LOSS_CODES and tuple(targets.shape) != (layers[-1][1], shared.shape[1]):
        return None  # targets the torch path would broadcast: leave them to it
    columns = list(zip(*layers, strict=True))
    return FusedPlan(
        in_features=list(columns[0]), out_features=list(columns[1]),
        weight_at=list(columns[2]), activations=list(columns[3]), alphas=alphas,
        inputs=_padded(shared), table=table, powers=powers,
        code_values=plan.code_values.numpy().astype(np.float32),
        samples=int(shared.shape[1]), loss=LOSS_CODES.get(loss, 0),
        targets=_padded(targets) if loss in LOSS_CODES else np.zeros((0, 0), np.float32))


def _padded(rows: torch.Tensor) -> np.ndarray:
    """``rows`` (r, samples) as float32 with the samples padded by zeros to whole blocks."""
    samples = rows.shape[1]
    padded = np.zeros((rows.shape[0], -(-samples // PAD) * PAD), np.float32)
    padded[:, :samples] = rows.numpy()
    return padded
