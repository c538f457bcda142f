"""Evaluate a whole population of genomes with batched tensor operations, no autograd.

Individual i's weights are ``decode(codes[i])``. Activations are feature-major,
(individuals, features, samples): each linear layer is one ``bmm`` of the individuals'
(out, in) matrices with them, which keeps a one-logit output layer a row-vector product
(far quicker in bmm than a matrix-vector one) and lets the first layer be one matrix
product or a table gather (see :mod:`engine.evolution.population_plan`). Large populations are
evaluated in chunks, so that the activations stay in the CPU's cache.

A plain float32 chain on the CPU (linear layers with tanh, ReLU or nothing between them)
is evaluated by a C kernel instead, one individual at a time with every layer fused
(:mod:`engine.evolution.fused`); ``fuse=False`` keeps torch's evaluation for it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from engine.core import activations
from engine.core.chain import Chain
from engine.core.layers import Activation, BatchTooSmallError, Layer, Norm
from engine.core.residual import Residual, walk
from engine.evolution.chunk_pool import pieces, shared_pool
from engine.evolution.fused import fused_plan, instruction_set
from engine.evolution.genome import GenomeLayout
from engine.evolution.population_plan import (
    LinearStep,
    ResidualStep,
    Step,
    TableStep,
    linear_steps,
    plan_evaluation,
)

Buffers = dict[int, torch.Tensor]  # a lane's reused outputs, by step number

# Chunks of about this many activation values (2 MB in float32) measured fastest on a
# 2-core CPU (with numpy's tanh, 10-20 % ahead of 8 MB ones at N = 1 000 and 10 000):
# smaller ones pay more per-operation overhead, larger ones miss the cache between the
# product, the activation and the next product (bench/bench_evolution.py measures the
# evaluation against plain bmm). On a GPU, bigger chunks keep it busy.
CHUNK_ELEMENTS_CPU = 1 << 19
CHUNK_ELEMENTS_GPU = 1 << 27
# The fused kernel's pieces: at least this many individuals (N = 100 in two halves on two
# threads measured slower than one piece: the pool's hand-over costs more than it shares
# out), and at most this many pieces
FUSED_PIECE = 128
FUSED_PIECES = 8


class PopulationEvaluator:
    """Losses of many genomes for one chain architecture, dataset and loss.

    Parameters
    ----------
    chain : Chain
        Architecture (and the norm layers' default affine parameters).
    inputs, targets : torch.Tensor
        The full batch, targets prepared for ``loss``.
    scales : list[float]
        α per linear layer.
    device : torch.device
    look_up_first_layer : bool
        Let a narrow first layer be a table gather (see :mod:`engine.evolution.population_plan`);
        off, it is computed as a product like the others.
    fuse : bool
        Evaluate genomes with the C kernel where it applies (see
        :mod:`engine.evolution.fused`); off, always with torch.
    """

    def __init__(self, chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
                 scales: list[float], device: torch.device,
                 look_up_first_layer: bool = True, fuse: bool = True) -> None:
        self.chain, self.loss, self.device = chain, loss, device
        self.layout = GenomeLayout.of(chain)
        self.dtype = chain.dtype
        self.inputs = inputs.to(device)
        self.targets = targets.to(device)
        self.scales = [float(alpha) for alpha in scales]
        samples = len(inputs)
        if samples < 2 and any(isinstance(layer, Norm) and layer.kind == "batch"
                               for _, layer in walk(chain.layers)):
            # as the ordinary pass and torch.nn.BatchNorm1d in training mode: one sample
            # would be normalised to 0 and every individual scored alike
            raise BatchTooSmallError(
                "batch norm needs a batch of at least 2 samples in training mode (as "
                "torch.nn.BatchNorm1d); the evolution scores each individual on the whole "
                f"data as one batch, and it has {samples}")
        # the layers before the first linear one see only the shared data: run them once
        shared = self.inputs.T.unsqueeze(0).clone()  # (1, in, samples)
        first = self.layout.layers[0] if self.layout.layers else len(chain.layers)
        for layer in chain.layers[:first]:
            shared = _apply(layer, shared)
        self.plan = plan_evaluation(chain, self.scales, shared[0], look_up_first_layer)
        self.shared = shared[0].contiguous()  # (in, samples)
        # targets laid out like the outputs, (outputs, samples), or class indices
        self.loss_targets = self.targets if loss == "cross_entropy" else self.targets.T
        if loss == "bce_with_logits":
            self.bce_weights = 1 - self.loss_targets  # (outputs, samples): 1 − y
        self.fused = (fused_plan(self.plan, self.shared, loss, self.loss_targets)
                      if fuse else None)
        widths = [len(self.shared), *(step.out_features
                                       for step in linear_steps(self.plan.steps))]
        budget = CHUNK_ELEMENTS_CPU if device.type == "cpu" else CHUNK_ELEMENTS_GPU
        self.chunk = max(1, budget // (samples * max(widths)))
        # Outputs go into buffers reused from call to call: fresh multi-megabyte tensors
        # would come from mmap and be page-faulted in every time. One set per lane: the
        # calling thread's (-1) and each pool worker's.
        self._lanes: dict[int, Buffers] = {}

    @property
    def evaluation(self) -> str:
        """What evaluates the genomes: "fused C kernel (avx512)", say, or "torch"."""
        return f"fused C kernel ({instruction_set()})" if self.fused is not None else "torch"

    def __getstate__(self) -> dict[str, object]:
        # the reused buffers are scratch: a pickled copy (an island worker's) makes its own
        return {**self.__dict__, "_lanes": {}}

    def losses(self, genomes: torch.Tensor) -> torch.Tensor:
        """Loss of each genome (N,) from codes (N, genome size)."""
        if self.fused is not None:
            return self._fused_losses(genomes)
        return self._each_piece(genomes.shape[0], lambda start, stop, buffers: self._losses(
            genomes[start:stop], buffers))

    def _fused_losses(self, genomes: torch.Tensor) -> torch.Tensor:
        fused = self.fused
        assert fused is not None
        codes = genomes.to(torch.uint8).contiguous().numpy()
        count, samples = genomes.shape[0], fused.samples

        def piece_losses(start: int, stop: int, buffers: Buffers) -> torch.Tensor:
            losses = torch.empty(stop - start, dtype=self.dtype)
            if fused.loss:  # the kernel takes the loss itself
                fused.outputs(codes[start:stop], losses.numpy())
                return losses
            # outputs for the loss to take, a chunk at a time (a piece's would be N/8
            # individuals' worth: gigabytes for 10^5 of them on 10^4 samples)
            for low, high in pieces(stop - start, self.chunk):
                out = self._buffer(buffers, 0, (high - low, fused.width, samples))
                fused.outputs(codes[start + low:start + high], out.numpy())
                losses[low:high] = self._loss(out)
            return losses

        # the kernel's cost per individual does not depend on the piece's size: pieces
        # only share the work out, a number of them that depends on N alone (so that a
        # seed's history does not depend on the thread count)
        return self._each_piece(count, piece_losses,
                                max(FUSED_PIECE, -(-count // FUSED_PIECES)))

    def _each_piece(self, count: int,
                    piece_losses: Callable[[int, int, Buffers], torch.Tensor],
                    chunk: int | None = None) -> torch.Tensor:
        """The losses (count,) of a population, piece by piece of at most ``chunk`` (the
        evaluator's) (see :mod:`engine.evolution.chunk_pool`): on the CPU's pool where
        there is one."""
        result = torch.empty(count, dtype=self.dtype, device=self.device)
        spans = pieces(count, chunk or self.chunk)
        pool = shared_pool() if self.device.type == "cpu" and len(spans) > 1 else None
        if pool is None:
            with torch.inference_mode():
                for start, stop in spans:
                    result[start:stop] = piece_losses(start, stop, self._lane(-1))
            return result

        def job(start: int, stop: int) -> Callable[[int], None]:
            def run(worker: int) -> None:
                result[start:stop] = piece_losses(start, stop, self._lane(worker))
            return run

        pool.run([job(start, stop) for start, stop in spans])
        return result

    def _lane(self, number: int) -> Buffers:
        return self._lanes.setdefault(number, {})

    def _losses(self, genomes: torch.Tensor, buffers: Buffers) -> torch.Tensor:
        plan = self.plan
        # the parameters the products need, decoded in genome order: (N, parameters);
        # int32 is the cheapest conversion from uint8 that index_select takes
        indices = genomes[:, plan.decode_from:].int()
        values = plan.code_values.index_select(0, indices.view(-1)).view(indices.shape)
        for step in linear_steps(plan.steps):
            if isinstance(step, LinearStep) and step.alpha != 1.0:
                values[:, step.weight_at:step.bias_at + step.out_features].mul_(step.alpha)
        h = self.shared.unsqueeze(0)  # (N, features, samples)
        h = self._run(plan.steps, h, values, genomes, [0], buffers)
        return self._loss(h.expand(genomes.shape[0], *h.shape[1:]))

    def losses_from_weights(self, weights: torch.Tensor) -> torch.Tensor:
        """Loss of each float weight set (N,), for the float strategies
        (:mod:`engine.evolution.strategies`): no codes, no α, no table.

        Shape: ``weights`` is (N, genome size), every linear layer's weights (row-major)
        and bias in genome order; it is read in the chain's dtype and never written.
        """
        steps = self._weight_steps()
        values = weights.to(self.device, self.dtype)

        def piece_losses(start: int, stop: int, buffers: Buffers) -> torch.Tensor:
            piece = values[start:stop]
            h = self._run(steps, self.shared.unsqueeze(0), piece, piece, [0], buffers)
            return self._loss(h.expand(piece.shape[0], *h.shape[1:]))

        return self._each_piece(values.shape[0], piece_losses)

    def _weight_steps(self) -> list[Step]:
        """The plan for float weights, made on first use: every linear layer a product
        at α = 1 reading genome positions (decode_from is 0 without the table)."""
        steps: list[Step] | None = self.__dict__.get("_float_steps")
        if steps is None:
            ones = [1.0] * len(self.layout.layers)
            steps = plan_evaluation(self.chain, ones, self.shared,
                                    look_up_first_layer=False).steps
            self._float_steps = steps
        return steps

    def _run(self, steps: Iterable[Step], h: torch.Tensor, values: torch.Tensor,
             genomes: torch.Tensor, counter: list[int], buffers: Buffers) -> torch.Tensor:
        """Apply ``steps`` to h (N, features, samples). ``counter`` numbers the steps that
        write a buffer of their own (one of ``buffers``), in the same order on every
        call."""
        for step in steps:
            if isinstance(step, TableStep | LinearStep):
                number = counter[0]
                counter[0] += 1
                h = (self._look_up(buffers, number, step, genomes)
                     if isinstance(step, TableStep)
                     else self._product(buffers, number, step, values, h))
            elif isinstance(step, ResidualStep):
                # the branch must not overwrite x, which the skip adds back: a product
                # writes a buffer of its own, anything else (in place) works on a copy
                first = step.steps[0] if step.steps else None
                branch = h if isinstance(first, LinearStep) else h.clone()
                branch = self._run(step.steps, branch, values, genomes, counter, buffers)
                h = branch.add_(h) if branch.shape[0] >= h.shape[0] else h + branch
            else:
                h = _apply(step, h)
        return h

    def _look_up(self, buffers: Buffers, number: int, step: TableStep,
                 genomes: torch.Tensor) -> torch.Tensor:
        """The first layer's outputs (N, units, samples): each unit's table row, whose
        number is the unit's codes read as base-16 digits."""
        count, units = genomes.shape[0], step.out_features
        weights = genomes[:, step.weight_at:step.bias_at].view(count, units, -1)
        rows = (weights.int() * step.powers).sum(-1, dtype=torch.int32)
        rows.add_(genomes[:, step.bias_at:step.bias_at + units])  # (N, units)
        out = self._buffer(buffers, number, (count * units, step.table.shape[1]))
        return torch.index_select(step.table, 0, rows.view(-1), out=out).view(count, units, -1)

    def _product(self, buffers: Buffers, number: int, step: LinearStep, values: torch.Tensor,
                 h: torch.Tensor) -> torch.Tensor:
        count, units = values.shape[0], step.out_features
        weights = values[:, step.weight_at:step.bias_at].view(count, units, step.in_features)
        bias = values[:, step.bias_at:step.bias_at + units].unsqueeze(-1)
        samples = h.shape[2]
        if h.shape[0] == 1:  # the input is shared: one (N·out, in) @ (in, samples) product
            out = self._buffer(buffers, number, (count * units, samples))
            torch.mm(weights.reshape(count * units, -1), h[0], out=out)
            return out.view(count, units, samples).add_(bias)
        out = self._buffer(buffers, number, (count, units, samples))
        # bias + W·h in one call, the order of the ordinary pass's addmm
        return torch.baddbmm(bias, weights, h, out=out)

    def _buffer(self, buffers: Buffers, number: int, shape: tuple[int, ...]) -> torch.Tensor:
        size = 1
        for extent in shape:
            size *= extent
        buffer = buffers.get(number)
        if buffer is None or buffer.shape[0] < size:
            buffer = torch.empty(size, dtype=self.dtype, device=self.device)
            buffers[number] = buffer
        return buffer[:size].view(shape)

    def _loss(self, output: torch.Tensor) -> torch.Tensor:
        """Mean loss per individual from outputs (N, outputs, samples)."""
        if self.loss == "mse":
            return (output - self.loss_targets).pow_(2).mean(dim=(1, 2))
        if self.loss == "bce_with_logits":
            # (1 − y)·z + max(−z, 0) + log(1 + e^−|z|) per element, then the mean: exact
            # where the loss is tiny, and never below 0 (a difference of two means,
            # mean((1 − y)·z) − mean(log σ(z)), was off by |z|·eps either way, and the
            # GA then chased that noise below 0)
            each = output.neg().clamp_min_(0).addcmul_(self.bce_weights, output)
            each += output.abs().neg_().exp_().log1p_()  # last: the first two cancel
            return each.mean(dim=(1, 2))
        # cross_entropy takes (N, classes, samples) with (N, samples) class indices as is
        targets = self.loss_targets.expand(output.shape[0], -1)
        return F.cross_entropy(output, targets, reduction="none").mean(1)


def _apply(layer: Layer, h: torch.Tensor) -> torch.Tensor:
    """An activation, norm or (parameter-free) residual layer on feature-major activations
    (N, features, samples); an activation works in place."""
    if isinstance(layer, Activation):
        return _activate_in_place(layer.kind, h)
    if isinstance(layer, Residual):
        branch = h.clone()
        for inner in layer.layers:
            branch = _apply(inner, branch)
        return branch.add_(h)
    assert isinstance(layer, Norm)
    return _norm(layer, h)


def _activate_in_place(kind: str, h: torch.Tensor) -> torch.Tensor:
    # h is the evaluator's own buffer, so in-place saves a full-size allocation
    if kind == "tanh":
        return tanh_in_place(h)
    if kind == "sigmoid":
        return h.sigmoid_()
    if kind == "relu":
        return h.relu_()
    if kind == "identity":
        return h
    return activations.activate(kind, h)


def tanh_in_place(h: torch.Tensor) -> torch.Tensor:
    """tanh on the CPU through numpy's SIMD kernel: 4x quicker than torch's for float32
    (0.15 against 0.6 ms over the 98 x 16 x 256 values of a generation at N = 100, most
    of the evaluation), within 1.5 ulp of the exact value where torch's is within 0.51
    (tests/engine/test_population_tanh.py). Other devices, dtypes and layouts take
    torch's."""
    if h.device.type == "cpu" and h.dtype in _NUMPY_FLOATS and h.is_contiguous():
        values = h.numpy()
        np.tanh(values, out=values)
        return h
    return h.tanh_()


_NUMPY_FLOATS = (torch.float32, torch.float64)


def _norm(layer: Norm, h: torch.Tensor) -> torch.Tensor:
    """The norm over each individual's own samples (batch norm) or features, with the
    layer's default affine parameters. Shape: h is (N, features, samples)."""
    if layer.kind == "batch":
        mean = h.mean(2, keepdim=True)
        var = h.var(2, unbiased=False, keepdim=True)
        weight = layer.params["weight"].to(h)[:, None]
        bias = layer.params["bias"].to(h)[:, None]
        return (h - mean) * torch.rsqrt(var + layer.eps) * weight + bias
    if layer.kind in ("layer", "rms"):
        rows = h.transpose(1, 2)  # (N, samples, features): these norms take features last
        features = (rows.shape[-1],)
        weight = layer.params["weight"].to(h)
        if layer.kind == "layer":
            out = F.layer_norm(rows, features, weight, layer.params["bias"].to(h), layer.eps)
        else:
            out = F.rms_norm(rows, features, weight, layer.eps)
        return out.transpose(1, 2)
    return F.normalize(h, p=1.0 if layer.kind == "l1" else 2.0, dim=1, eps=layer.eps)
