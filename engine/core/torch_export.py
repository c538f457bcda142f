"""The chain as plain PyTorch: a live ``torch.nn.Sequential``, or runnable Python source.

Used by "Export as PyTorch code" and the headless result. The tests build their torch
twins themselves; these functions are what they check.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.core.chain import Chain
from engine.core.layers import Activation, Linear, Norm
from engine.core.residual import Residual

_ACTIVATION_MODULES = {
    "identity": "nn.Identity()", "relu": "nn.ReLU()", "leaky_relu": "nn.LeakyReLU()",
    "elu": "nn.ELU()", "gelu": "nn.GELU()", "silu": "nn.SiLU()", "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()", "softplus": "nn.Softplus()",
}


class Normalize(nn.Module):
    """``F.normalize(x, p, dim=-1, eps)`` as a module (l1/l2 norm layers)."""

    def __init__(self, p: float, eps: float) -> None:
        super().__init__()
        self.p, self.eps = p, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, p=self.p, dim=-1, eps=self.eps)

    def extra_repr(self) -> str:
        return f"p={self.p}, eps={self.eps}"


class ResidualBlock(nn.Module):
    """x + body(x), the block's layers kept as ``self.body`` (parameters ``body.0.weight``)."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


# the script's own copies of the module classes above
_SCRIPT_CLASSES = [
    "class Normalize(nn.Module):",
    '    """F.normalize(x, p, dim=-1, eps) as a module (Chain Lab\'s l1/l2 norm)."""',
    "",
    "    def __init__(self, p, eps):",
    "        super().__init__()",
    "        self.p, self.eps = p, eps",
    "",
    "    def forward(self, x):",
    "        return nn.functional.normalize(x, p=self.p, dim=-1, eps=self.eps)",
    "",
    "",
    "class ResidualBlock(nn.Module):",
    '    """x + body(x): Chain Lab\'s residual block, its layers in self.body."""',
    "",
    "    def __init__(self, *layers):",
    "        super().__init__()",
    "        self.body = nn.Sequential(*layers)",
    "",
    "    def forward(self, x):",
    "        return x + self.body(x)",
]


def _module_source(layer: object) -> str:
    if isinstance(layer, Residual):
        return f"ResidualBlock({', '.join(_module_source(inner) for inner in layer.layers)})"
    if isinstance(layer, Linear):
        return f"nn.Linear({layer.in_features}, {layer.out_features_})"
    if isinstance(layer, Activation):
        return _ACTIVATION_MODULES[layer.kind]
    assert isinstance(layer, Norm)
    eps = repr(layer.eps)
    return {
        "batch": f"nn.BatchNorm1d({layer.features}, eps={eps}, momentum={layer.momentum!r})",
        "layer": f"nn.LayerNorm({layer.features}, eps={eps})",
        "rms": f"nn.RMSNorm({layer.features}, eps={eps})",
        "l1": f"Normalize(1.0, eps={eps})",
        "l2": f"Normalize(2.0, eps={eps})",
    }[layer.kind]


def to_torch_sequential(chain: Chain) -> nn.Sequential:
    """A ``torch.nn.Sequential`` with the chain's modules and a copy of its parameters and
    batch-norm running statistics (``load_state_dict``, strict)."""
    namespace = {"nn": nn, "Normalize": Normalize, "ResidualBlock": ResidualBlock}
    modules = [eval(_module_source(layer), namespace) for layer in chain.layers]
    model = nn.Sequential(*modules).to(chain.dtype)
    model.load_state_dict(state_dict(chain, model), strict=True)
    return model


def state_dict(chain: Chain, model: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """The chain's parameters and buffers under ``torch.nn.Sequential``'s names. With the
    torch ``model`` given, buffers the engine does not keep (batch norm's
    ``num_batches_tracked``) are taken from it, so a strict load succeeds."""
    state = {name: t.clone() for name, t in [*chain.parameters(), *chain.buffers()]}
    if model is not None:
        for name, tensor in model.state_dict().items():
            state.setdefault(name, tensor.clone())
    return state


def python_source(chain: Chain) -> str:
    """A runnable script that rebuilds the chain with its current parameters.

    The parameters are written as Python literals with full precision (``repr`` of each
    float), so the rebuilt model computes the same numbers as the engine.
    """
    dtype = chain.dtype_name
    lines = [
        '"""Exported from Chain Lab: the chain as torch.nn.Sequential with its parameters."""',
        "import torch",
        "from torch import nn",
        "",
        "",
        *_SCRIPT_CLASSES,
        "",
        "",
        "def build_model():",
        "    model = nn.Sequential(",
    ]
    lines += [f"        {_module_source(layer)}," for layer in chain.layers]
    lines += [f"    ).to(torch.{dtype})", "    state = model.state_dict()"]
    # parameters and batch norm's running statistics, then a strict load: a name that
    # did not match would fail here instead of leaving a default silently in place
    for name, tensor in [*chain.parameters(), *chain.buffers()]:
        lines.append(f"    state[{name!r}] = torch.tensor({tensor.tolist()!r}, "
                     f"dtype=torch.{dtype})")
    lines += [
        "    model.load_state_dict(state, strict=True)",
        "    model.eval()  # batch norm on its running statistics, as Chain Lab evaluates",
        "    return model",
        "",
        "",
        'if __name__ == "__main__":',
        "    model = build_model()",
        f"    x = torch.zeros(2, {chain.input_size}, dtype=torch.{dtype})",
        "    print(model)",
        "    print(model(x))",
        "",
    ]
    return "\n".join(lines)
