"""Evaluate a whole population of genomes with batched tensor operations, no autograd.

Individual i's weights are ``decode(codes[i])``; one ``baddbmm`` per linear layer
evaluates every individual at once on the full dataset. Large populations are evaluated
in chunks so that the activations stay within a memory budget.

Shape: activations are (individuals, samples, features) throughout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine import activations
from engine.chain import Chain
from engine.genome import GenomeLayout, code_table
from engine.layers import Activation, Linear, Norm

# Individuals are evaluated in chunks whose activations (≈ 4 MB of float32) stay in the
# CPU's cache, so the bias add, the activation and the loss cost almost nothing on top of
# the matrix products (bench/bench_evolution.py measures this against plain bmm). On a
# GPU, bigger chunks keep the device busy.
CHUNK_ELEMENTS_CPU = 1 << 20
# f(c) == 1.0 exactly in float32 and float64: a unit with pre-activation c carries a
# constant 1 through these activations, so the next layer's bias can ride in its product.
CONSTANT_ONE = {"identity": 1.0, "relu": 1.0, "leaky_relu": 1.0, "elu": 1.0, "tanh": 30.0,
                "sigmoid": 40.0}
CHUNK_ELEMENTS_GPU = 1 << 27


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
    """

    def __init__(self, chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
                 scales: list[float], device: torch.device) -> None:
        self.chain, self.loss, self.device = chain, loss, device
        self.layout = GenomeLayout.of(chain)
        self.dtype = chain.dtype
        self.inputs = inputs.to(device)
        self.targets = targets.to(device)
        # Biases ride in the matrix products where they can: the inputs gain a column of
        # ones, and a linear layer followed by a CONSTANT_ONE activation and another linear
        # layer gets one extra unit that stays 1, so the next layer's weights can hold its
        # bias as one more row. That saves a full pass over (N, S, out) per layer.
        ones = torch.ones(len(inputs), 1, dtype=self.inputs.dtype, device=device)
        self.inputs_with_ones = torch.cat([self.inputs, ones], 1)
        self.plan = self._bias_plan(chain)
        self.table = code_table(self.dtype).to(device)  # α = 1; scaled per layer below
        self.scales = [float(alpha) for alpha in scales]
        widest = max([chain.input_size, *(s[0] for s in self.layout.shapes)])
        budget = CHUNK_ELEMENTS_CPU if device.type == "cpu" else CHUNK_ELEMENTS_GPU
        self.chunk = max(1, budget // (len(inputs) * widest))
        # Each linear layer's output goes into a buffer reused from call to call: fresh
        # multi-megabyte tensors would come from mmap and be page-faulted in every time.
        self._outputs: dict[int, torch.Tensor] = {}
        self._matrices: dict[int, torch.Tensor] = {}

    @staticmethod
    def _bias_plan(chain: Chain) -> list[tuple[bool, float | None]]:
        """Per linear layer: (its input ends in a constant-1 column, the pre-activation of
        the constant unit it should add to its output, or None)."""
        layers = chain.layers
        plan: list[tuple[bool, float | None]] = []
        constant_in = bool(layers) and isinstance(layers[0], Linear)
        for index, layer in enumerate(layers):
            if not isinstance(layer, Linear):
                if not isinstance(layer, Activation) or layer.kind not in CONSTANT_ONE:
                    constant_in = False
                continue
            following = layers[index + 1:index + 3]
            carries = (constant_in and len(following) == 2
                       and isinstance(following[0], Activation)
                       and following[0].kind in CONSTANT_ONE
                       and isinstance(following[1], Linear))
            plan.append((constant_in, CONSTANT_ONE[following[0].kind] if carries else None))
            constant_in = carries
        return plan

    def _augmented(self, number: int, count: int, weight: torch.Tensor, bias: torch.Tensor,
                   constant_out: float | None) -> torch.Tensor:
        """(N, in + 1, out [+ 1]): Wᵀ, the bias as the row that meets the constant-1 input
        column, and (with ``constant_out``) a unit fed only by that constant, which stays
        1 through the activation. Kept from call to call; only Wᵀ and b are rewritten."""
        out_features, in_features = weight.shape[1], weight.shape[2]
        width = out_features + (constant_out is not None)
        buffer = self._matrices.get(number)
        if buffer is None or buffer.shape[0] < count:
            buffer = torch.zeros(max(count, self.chunk), in_features + 1, width,
                                 dtype=self.dtype, device=self.device)
            if constant_out is not None:
                buffer[:, in_features, out_features] = constant_out
            self._matrices[number] = buffer
        matrix = buffer[:count]
        matrix[:, :in_features, :out_features].copy_(weight.transpose(1, 2))
        matrix[:, in_features, :out_features].copy_(bias)
        return matrix

    def _output(self, number: int, count: int, width: int) -> torch.Tensor:
        buffer = self._outputs.get(number)
        if buffer is None or buffer.shape[0] < count:
            buffer = torch.empty(max(count, self.chunk), len(self.inputs), width,
                                 dtype=self.dtype, device=self.device)
            self._outputs[number] = buffer
        return buffer[:count]

    def losses(self, genomes: torch.Tensor) -> torch.Tensor:
        """Loss of each genome (N,) from codes (N, genome size)."""
        with torch.inference_mode():
            parts = [self._losses(genomes[start:start + self.chunk])
                     for start in range(0, len(genomes), self.chunk)]
        return torch.cat(parts) if parts else torch.zeros(0, device=self.device)

    def _losses(self, genomes: torch.Tensor) -> torch.Tensor:
        count = len(genomes)
        # decode the whole chunk at once: (N, genome); take() is the quickest lookup here
        values = torch.take(self.table, genomes.long())
        # (samples, in [+ 1]), broadcast over individuals by the first matmul
        h = self.inputs_with_ones if self.plan and self.plan[0][0] else self.inputs
        number = 0
        for layer in self.chain.layers:
            if isinstance(layer, Linear):
                weight, bias = self.layout.slices(values, number)
                alpha = self.scales[number]
                if alpha != 1.0:
                    weight, bias = weight * alpha, bias * alpha
                constant_in, constant_out = self.plan[number]
                if constant_in:
                    matrix = self._augmented(number, count, weight, bias, constant_out)
                else:
                    matrix = weight.transpose(1, 2)  # (N, in, out)
                out = self._output(number, count, matrix.shape[2])
                h = torch.matmul(h, matrix, out=out)
                if not constant_in:
                    h.add_(bias.unsqueeze(1))
                number += 1
            elif isinstance(layer, Activation):
                h = _activate_in_place(layer.kind, h)
            elif isinstance(layer, Norm):
                h = _norm(layer, h)
        if h.dim() == 2:  # a chain with no linear layer
            h = h.expand(count, *h.shape)
        return self._loss(h)

    def _loss(self, output: torch.Tensor) -> torch.Tensor:
        count = len(output)
        if self.loss == "mse":
            diff = output - self.targets
            return diff.pow_(2).mean(dim=(1, 2))
        if self.loss == "bce_with_logits":
            target = self.targets.expand_as(output)
            return F.binary_cross_entropy_with_logits(output, target, reduction="none"
                                                      ).mean(dim=(1, 2))
        samples = output.shape[1]
        flat = F.cross_entropy(output.reshape(count * samples, -1),
                               self.targets.repeat(count), reduction="none")
        return flat.reshape(count, samples).mean(1)


def _activate_in_place(kind: str, h: torch.Tensor) -> torch.Tensor:
    # h is a fresh tensor from baddbmm/norm, so in-place saves a full-size allocation
    if kind == "tanh":
        return h.tanh_()
    if kind == "sigmoid":
        return h.sigmoid_()
    if kind == "relu":
        return h.relu_()
    if kind == "identity":
        return h
    return activations.activate(kind, h)


def _norm(layer: Norm, h: torch.Tensor) -> torch.Tensor:
    """The norm over each individual's own batch (batch norm: dim 1) or features (dim 2),
    with the layer's default affine parameters."""
    features = h.shape[-1]
    if layer.kind == "batch":
        mean = h.mean(1, keepdim=True)
        var = h.var(1, unbiased=False, keepdim=True)
        weight, bias = layer.params["weight"].to(h), layer.params["bias"].to(h)
        return (h - mean) * torch.rsqrt(var + layer.eps) * weight + bias
    if layer.kind == "layer":
        return F.layer_norm(h, (features,), layer.params["weight"].to(h),
                            layer.params["bias"].to(h), layer.eps)
    if layer.kind == "rms":
        return F.rms_norm(h, (features,), layer.params["weight"].to(h), layer.eps)
    return F.normalize(h, p=1.0 if layer.kind == "l1" else 2.0, dim=-1, eps=layer.eps)
