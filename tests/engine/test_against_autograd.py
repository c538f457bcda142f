"""Every value a pass records equals what torch autograd gives for the whole chain."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.losses import LOSSES
from engine.core.stepper import Pass
from tests.engine.helpers import assert_close, random_batch, random_spec, torch_loss, torch_twin

CASES = [(seed, dtype) for seed in range(60) for dtype in ("float64", "float32")]


@pytest.mark.parametrize(("seed", "dtype"), CASES)
def test_pass_matches_autograd(seed: int, dtype: str) -> None:
    rng = np.random.default_rng(seed)
    batch = int(rng.choice([1, 2, 5, 16]))
    loss = LOSSES[seed % len(LOSSES)]
    chain = Chain(random_spec(rng, batch), dtype, torch.Generator().manual_seed(seed))
    x, targets = random_batch(rng, chain, loss, batch)
    model = torch_twin(chain)

    pass_ = Pass(chain, x, targets, loss).run()

    outputs = []
    h = x
    for module in model:
        h = module(h)
        h.retain_grad()
        outputs.append(h)
    reference_loss = torch_loss(loss, h, targets)
    reference_loss.backward()

    assert_close(pass_.loss, reference_loss.detach(), chain.dtype, "loss")
    grad_scale = max(float(o.grad.abs().max()) for o in outputs)
    for index, (module, reference) in enumerate(zip(model, outputs, strict=True)):
        assert_close(pass_.outputs[index], reference.detach(), chain.dtype, f"output {index}")
        assert_close(pass_.grad_outputs[index], reference.grad, chain.dtype,
                     f"grad_output {index}", grad_scale)
        for name, param in module.named_parameters():
            assert_close(pass_.grads(index)[name], param.grad, chain.dtype,
                         f"grad {index}.{name}", grad_scale)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_grad_input_of_first_layer_matches_autograd(dtype: str) -> None:
    rng = np.random.default_rng(7)
    chain = Chain(random_spec(rng, 4), dtype, torch.Generator().manual_seed(7))
    x, targets = random_batch(rng, chain, "mse", 4)
    pass_ = Pass(chain, x, targets, "mse").run()
    x_ref = x.clone().requires_grad_(True)
    torch_loss("mse", torch_twin(chain)(x_ref), targets).backward()
    assert_close(pass_.grad_inputs[0], x_ref.grad, chain.dtype, "dL/dx")
