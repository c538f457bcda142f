"""4-bit log-quantised weights: the codec the genetic algorithm evolves.

A code c (0..15) holds a sign bit (bit 3) and an exponent e (bits 0..2):
value = 0 when e = 7 (so codes 7 and 15 are +0 and −0), else (−1)^s · α · 2^(−e).
That is 15 distinct values {0, ±α, ±α/2, …, ±α/64}: the logarithmic grid of
Miyashita et al. 2016 with a sign bit, the levels of APoT's 4-bit power-of-two quantiser.
α is a per-layer scale.

The genome of a chain lists every linear layer's weight codes (row-major) and then its
bias codes, layer after layer, those inside residual blocks included in the order of the
chain's parameters; norm layers' affine parameters are not in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.core.chain import Chain

SIGN_BIT = 8
EXPONENT_MASK = 7
ZERO_EXPONENT = 7
CODES = 16


def code_table(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The value of each of the 16 codes for α = 1 (index = code)."""
    codes = torch.arange(CODES)
    exponent = codes & EXPONENT_MASK
    magnitude = torch.where(exponent == ZERO_EXPONENT, torch.zeros(CODES, dtype=torch.float64),
                            torch.pow(2.0, -exponent.double()))
    sign = torch.where(codes & SIGN_BIT != 0, -1.0, 1.0).double()
    return (sign * magnitude).to(dtype)


def decode(codes: torch.Tensor, alpha: float = 1.0, dtype: torch.dtype = torch.float32
           ) -> torch.Tensor:
    """Values of ``codes`` (any shape, integers 0..15) at scale ``alpha``."""
    table = code_table(torch.float64).mul(alpha).to(dtype=dtype, device=codes.device)
    return table[codes.long()]


def quantise(values: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Nearest code for each value (ties go to the smaller magnitude; beyond α clips to α;
    NaN and ±Infinity have no nearest code and raise ValueError).

    Returns uint8 codes of the same shape. The sign bit follows the value's sign bit, so
    −0.0 and small negative values map to −0 (code 15).
    """
    if not bool(torch.isfinite(values).all()):
        raise ValueError("cannot quantise NaN or ±Infinity onto the 4-bit grid")
    magnitude = values.abs().double() / alpha
    # levels in ascending magnitude: 0, 2^-6, ..., 2^0 ↔ exponents 7, 6, ..., 0
    levels = torch.cat([torch.zeros(1, dtype=torch.float64),
                        torch.pow(2.0, -torch.arange(6, -1, -1, dtype=torch.float64))])
    midpoints = ((levels[1:] + levels[:-1]) / 2).to(magnitude.device)
    # a value exactly at a midpoint lands on the lower level: ties to the smaller magnitude
    level_index = torch.searchsorted(midpoints, magnitude.contiguous(), right=False)
    exponents = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0], dtype=torch.uint8,
                             device=values.device)[level_index]
    sign = torch.signbit(values).to(torch.uint8) * SIGN_BIT
    return exponents | sign


@dataclass(frozen=True)
class GenomeLayout:
    """Where each linear layer's weights and biases sit in a flat genome."""

    # chain index of each linear layer (inside a residual block: the block's index)
    layers: tuple[int, ...]
    shapes: tuple[tuple[int, int], ...]  # (out, in) of each
    offsets: tuple[int, ...]  # start of each layer's weights; its bias follows them
    size: int
    # module path of each linear layer ("3", "2.body.0"): its parameters' name prefix
    paths: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, chain: Chain) -> GenomeLayout:
        layers, shapes, offsets, paths, size = [], [], [], [], 0
        for path, layer in chain.linear_layers():
            out_features, in_features = layer.params["weight"].shape
            layers.append(int(path.split(".")[0]))
            shapes.append((out_features, in_features))
            offsets.append(size)
            paths.append(path)
            size += out_features * in_features + out_features
        return cls(tuple(layers), tuple(shapes), tuple(offsets), size, tuple(paths))

    def slices(self, genomes: torch.Tensor, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight codes (N, out, in) and bias codes (N, out) of linear layer ``number``."""
        out_features, in_features = self.shapes[number]
        start = self.offsets[number]
        middle = start + out_features * in_features
        weight = genomes[:, start:middle].reshape(-1, out_features, in_features)
        return weight, genomes[:, middle:middle + out_features]


def chain_genome(chain: Chain, scales: list[float]) -> torch.Tensor:
    """Quantise the chain's current linear parameters: a (size,) uint8 genome."""
    parts = []
    for number, (_, layer) in enumerate(chain.linear_layers()):
        parts += [quantise(layer.params["weight"].reshape(-1), scales[number]),
                  quantise(layer.params["bias"], scales[number])]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.uint8)


def load_genome(chain: Chain, genome: torch.Tensor, scales: list[float]) -> None:
    """Replace the chain's linear parameters by a genome's decoded values."""
    layout = GenomeLayout.of(chain)
    for number, (_, layer) in enumerate(chain.linear_layers()):
        weight, bias = layout.slices(genome.reshape(1, -1).cpu(), number)
        layer.set_param("weight", decode(weight[0], scales[number], chain.dtype))
        layer.set_param("bias", decode(bias[0], scales[number], chain.dtype))


def genome_hex(genome: torch.Tensor) -> str:
    """One hex digit per parameter, in genome order."""
    return "".join("0123456789abcdef"[int(c)] for c in genome.reshape(-1).tolist())


def resolve_scales(scales: float | list[float], layers: int) -> list[float]:
    return [float(scales)] * layers if isinstance(scales, int | float) else \
        [float(s) for s in scales]
