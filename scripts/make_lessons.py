"""Writes resources/lessons/*.json: each lesson's text, session and claims (run it after editing
a lesson here; `./run-app lessons --check` then checks every claim)."""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from engine.core.specs import InitSpec, repeated_block
from engine.data.residual_comparison import plain_and_residual

OUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "lessons"
SEED_NET = json.loads((OUT.parents[1] / "examples" / "seed.json").read_text())["network"]


def net(spec):
    return spec.model_dump(mode="json", exclude_none=True)


def session(network, data=None, loss="mse", task=None, dtype="float64", name=""):
    return {
        "format": "chainlab/1",
        "name": name,
        "seed": 0,
        "dtype": dtype,
        "network": network,
        "data": data or {"dataset": "spiral", "samples": 64, "noise": 0.0},
        "loss": loss,
        "task": task or {"kind": "step"},
    }


SEED_DATA = {"inputs": [[10.0]], "targets": [0.5]}
lessons = []


def lesson(stem, title, page, text, try_this, sess, claims):
    lessons.append(
        (
            stem,
            {
                "format": "chainlab-lesson/1",
                "title": title,
                "page": page,
                "text": text,
                "try_this": try_this,
                "session": sess,
                "claims": claims,
            },
        )
    )


lesson(
    "01_vanishing_gradients",
    "Vanishing gradients with sigmoid and tanh",
    "gradients",
    "<p>The backward pass multiplies one derivative f′(z) per layer (and one weight matrix). "
    "Sigmoid's f′ is at most 0.25 (at z = 0), so five sigmoid layers multiply a gradient by at "
    "most 0.25⁵ ≈ 0.001 before the weights have their say; "
    "tanh′ lies in (0, 1], reaching 1 only at 0. Thirty such layers leave the first layers "
    "with almost no gradient: they hardly learn.</p><p>This lesson opens a chain of 30 "
    "sigmoid blocks (width 32, PyTorch's default initialisation) on the spiral data. On the "
    "Gradient flow page the ‖dL/dW‖ bars fall by more than twenty orders of magnitude from "
    "the output to the input.</p>",
    [
        "Read the first/last ratio under the bars.",
        "Builder ▸ All activations: tanh — still vanishing (about 10⁻⁷).",
        "All activations: relu with Kaiming init (the next lesson).",
    ],
    session(net(repeated_block(2, 32, 30, "sigmoid")), name="30 sigmoid blocks"),
    [
        {
            "says": "sigmoid's derivative is at most 0.25",
            "quantity": "derivative_max",
            "activation": "sigmoid",
            "equals": 0.25,
            "digits": 6,
        },
        {
            "says": "tanh's derivative is at most 1",
            "quantity": "derivative_max",
            "activation": "tanh",
            "equals": 1.0,
            "digits": 6,
        },
        {
            "says": "the first/last gradient ratio of the 30-block sigmoid chain is below 1e-20",
            "quantity": "gradient_ratio",
            "below": 1e-20,
        },
        {
            "says": "with tanh instead it is still below 1e-6",
            "quantity": "gradient_ratio",
            "below": 1e-6,
            "network": net(repeated_block(2, 32, 30, "tanh")),
        },
    ],
)

lesson(
    "02_relu_and_dead_units",
    "ReLU, its variants, and dead units",
    "gradients",
    "<p>ReLU's derivative is exactly 1 wherever the unit is active and 0 elsewhere, so an "
    "active path passes the gradient on unchanged: that is why ReLU replaced sigmoid and "
    "tanh in deep networks. With Kaiming initialisation (scaled for ReLU) a 30-block ReLU "
    "chain keeps its first/last gradient ratio within a few orders of magnitude of 1.</p>"
    "<p>The price is dead units: a unit whose input is negative for every sample passes no "
    "gradient at all and stops learning. Leaky ReLU, ELU, GELU and SiLU keep a small slope "
    "below zero.</p>",
    [
        "Compare with the default initialisation: Builder ▸ Repeat a block, init default.",
        "The dead-unit share per layer is on the Gradient flow page.",
    ],
    session(
        net(repeated_block(2, 32, 30, "relu", init=InitSpec(kind="kaiming_normal"))),
        name="30 ReLU blocks, Kaiming",
    ),
    [
        {
            "says": "ReLU's derivative is exactly 1 where it is active",
            "quantity": "derivative_max",
            "activation": "relu",
            "equals": 1.0,
            "digits": 17,
        },
        {
            "says": "with Kaiming init the first/last gradient ratio stays above 1e-3",
            "quantity": "gradient_ratio",
            "above": 1e-3,
        },
        {
            "says": "with PyTorch's default init the same chain vanishes (below 1e-9)",
            "quantity": "gradient_ratio",
            "below": 1e-9,
            "network": net(repeated_block(2, 32, 30, "relu")),
        },
        {
            "says": "weights 0.1 and biases −1 kill every unit of the first ReLU layer",
            "quantity": "stat",
            "what": "dead",
            "layer": 1,
            "equals": 1.0,
            "digits": 6,
            "network": net(
                repeated_block(
                    2, 32, 6, "relu", init=InitSpec(kind="constant", weight=0.1, bias=-1.0)
                )
            ),
        },
    ],
)

lesson(
    "03_seed_example",
    "The seed example, with its true numbers",
    "chain",
    "<p>One input x = 10 → linear(w = 0.3, b = 0.3) → tanh → linear(w = 0.3, b = 0.3) → tanh, "
    "target 0.5. The first linear layer gives 0.3 · 10 + 0.3 = 3.3, and tanh(3.3) = "
    "0.99728 (not 0.8: tanh is already saturated there). The second gives 0.3 · 0.99728 + "
    "0.3 = 0.59918 and tanh(0.59918) = 0.53647.</p><p>With x = 0.5 instead: 0.45 → "
    "tanh(0.45) = 0.42190 → 0.42657 → tanh(0.42657) = 0.40245.</p>",
    [
        "Step forward four times and read each node (4 digits); right-click a node ▸ Show bits "
        "of output[0, 0] for every digit.",
        "Drag the x slider to 0.5 and watch every value change.",
    ],
    session(SEED_NET, data=SEED_DATA, name="Seed example"),
    [
        {
            "says": "tanh(3.3) = 0.99728",
            "quantity": "pass",
            "what": "output",
            "layer": 1,
            "equals": 0.99728,
            "digits": 5,
        },
        {
            "says": "tanh(0.59918) = 0.53647",
            "quantity": "pass",
            "what": "output",
            "layer": 3,
            "equals": 0.53647,
            "digits": 5,
        },
        {
            "says": "with x = 0.5: tanh(0.45) = 0.42190",
            "quantity": "pass",
            "what": "output",
            "layer": 1,
            "inputs": [[0.5]],
            "equals": 0.42190,
            "digits": 5,
        },
        {
            "says": "with x = 0.5: tanh(0.42657) = 0.40245",
            "quantity": "pass",
            "what": "output",
            "layer": 3,
            "inputs": [[0.5]],
            "equals": 0.40245,
            "digits": 5,
        },
    ],
)

lesson(
    "04_linear_layer_amplifies",
    "A linear layer can output more than its input",
    "chain",
    "<p>A common belief is that a layer only shrinks what passes through it. Any weight with "
    "|w| > 1 amplifies; for a matrix, the largest singular value is the most it can stretch a "
    "vector. This chain's weight is diag(3, 0.5): it triples the first input and halves the "
    "second, so ‖Wx‖ can exceed ‖x‖.</p>",
    [
        "Click the linear layer and edit its weights.",
        "Type a weight of 0.5 everywhere: now it shrinks.",
    ],
    session(
        {
            "input_size": 2,
            "layers": [
                {
                    "type": "linear",
                    "out_features": 2,
                    "weight": [[3.0, 0.0], [0.0, 0.5]],
                    "bias": [0.0, 0.0],
                }
            ],
        },
        data={"inputs": [[1.0, 1.0]], "targets": [[0.0, 0.0]]},
        name="diag(3, 0.5)",
    ),
    [
        {
            "says": "the largest singular value of W is 3",
            "quantity": "singular_value_max",
            "layer": 0,
            "equals": 3.0,
            "digits": 12,
        },
        {
            "says": "input (1, 1) gives an output of 3 in the first unit",
            "quantity": "pass",
            "what": "output",
            "layer": 0,
            "equals": 3.0,
            "digits": 12,
        },
    ],
)

lesson(
    "05_initialisation",
    "Initialisation decides before training starts",
    "gradients",
    "<p>The same 30-block tanh chain behaves completely differently depending on how its "
    "weights are drawn. Uniform ±1 weights make every pre-activation large: the gradient "
    "explodes towards the input (first/last ratio in the thousands). PyTorch's default "
    "makes it vanish (about 10⁻⁷). Xavier (Glorot) scales the weights by the layer's fan-in "
    "and fan-out to keep the signal's variance steady, and the ratio stays within a couple of "
    "orders of magnitude of 1.</p>",
    [
        "Builder ▸ Repeat a block: try each initialiser at depth 30.",
        "Watch the activation histograms on the Gradient flow page.",
    ],
    session(
        net(repeated_block(2, 32, 30, "tanh", init=InitSpec(kind="xavier_normal"))),
        name="30 tanh blocks, Xavier",
    ),
    [
        {
            "says": "uniform ±1 weights: the first/last gradient ratio is above 100 (explodes)",
            "quantity": "gradient_ratio",
            "above": 100,
            "network": net(repeated_block(2, 32, 30, "tanh", init=InitSpec(kind="uniform", a=1.0))),
        },
        {
            "says": "PyTorch's default init: below 1e-6 (vanishes)",
            "quantity": "gradient_ratio",
            "below": 1e-6,
            "network": net(repeated_block(2, 32, 30, "tanh")),
        },
        {
            "says": "Xavier: between 0.01 and 100",
            "quantity": "gradient_ratio",
            "above": 0.01,
            "below": 100,
        },
    ],
)

lesson(
    "06_chain_rule_by_hand",
    "The chain rule, stepped by hand",
    "chain",
    "<p>Backward through the seed example. The loss is (a − 0.5)² with a = 0.53647, so "
    "dL/da = 2(a − 0.5) = 0.07294. Each tanh multiplies by its local derivative f′(z) = 1 − "
    "tanh²(z); each linear layer by its weight. At the first tanh: dL/dz = dL/da × f′(z) = "
    "0.01558 × 0.005427 = 8.457e−05 — tiny, because tanh(3.3) is saturated. The first "
    "weight's gradient is that times its input: 10 × 8.457e−05 = 8.457e−04.</p>",
    [
        "Step forward four times (a new pass, one layer at a time), then Step backward four "
        "times; click each node.",
        "Every product in the chain-rule text multiplies out: check one with a calculator.",
    ],
    session(SEED_NET, data=SEED_DATA, name="Seed example"),
    [
        {
            "says": "dL/da at the output is 0.07294",
            "quantity": "pass",
            "what": "grad_output",
            "layer": 3,
            "equals": 0.07294,
            "digits": 4,
        },
        {
            "says": "dL/da at the first tanh is 0.01558",
            "quantity": "pass",
            "what": "grad_output",
            "layer": 1,
            "equals": 0.01558,
            "digits": 4,
        },
        {
            "says": "f′(z) of the first tanh is 0.005427",
            "quantity": "pass",
            "what": "local_derivative",
            "layer": 1,
            "equals": 0.005427,
            "digits": 4,
        },
        {
            "says": "dL/dz of the first layer is 8.457e-05",
            "quantity": "pass",
            "what": "grad_output",
            "layer": 0,
            "equals": 8.457e-05,
            "digits": 4,
        },
        {
            "says": "dL/dW of the first layer is 8.457e-04",
            "quantity": "pass",
            "what": "grad_weight",
            "layer": 0,
            "equals": 8.457e-04,
            "digits": 4,
        },
    ],
)

lesson(
    "07_sgd_step",
    "SGD and the learning rate",
    "training",
    "<p>One SGD step is W ← W − lr · dL/dW, nothing more. On the seed example at lr 0.1 the "
    "first weight moves from 0.3 to 0.3 − 0.1 × 8.457e−04 = 0.29991543, and the second from "
    "0.3 to 0.3 − 0.1 × 0.05181 = 0.29481942. The <i>training loop</i> is something else: "
    "it draws a minibatch, runs a forward and a backward pass, takes the SGD step, and "
    "repeats; the learning rate decides how far each step goes.</p>",
    [
        "Training ▸ Step once, then click the first linear layer: its weight is 0.29991543.",
        "Raise the learning rate to 5 and Run: watch the loss.",
    ],
    session(
        SEED_NET,
        data=SEED_DATA,
        task={"kind": "train", "lr": 0.1, "steps": 1},
        name="Seed example, one SGD step",
    ),
    [
        {
            "says": "after one step at lr 0.1 the first weight is 0.29991543",
            "quantity": "result",
            "path": "network.layers.0.weight.0.0",
            "equals": 0.29991543,
            "digits": 8,
        },
        {
            "says": "and the second weight is 0.29481942",
            "quantity": "result",
            "path": "network.layers.2.weight.0.0",
            "equals": 0.29481942,
            "digits": 8,
        },
    ],
)

lesson(
    "08_norm_growth",
    "Weights and outputs that grow during training",
    "training",
    "<p>Nothing in plain SGD keeps weights small: when larger weights lower the loss, their "
    "norms grow step after step, and so do the outputs they produce, until activations "
    "saturate or overflow. Chameleon (Meta, 2024) hit exactly this in a large model — the "
    "norms of attention's queries and keys grew until training diverged — and added QK-norm, "
    "a layer norm on queries and keys, to hold them in range.</p><p>Here a small tanh "
    "classifier trained on the spiral at lr 0.5: watch the weight-norm plot climb.</p>",
    [
        "Run, and watch Weight norm ‖W‖ and Output norm.",
        "Add a layer norm after each linear layer (Builder ▸ Repeat a block) and compare.",
    ],
    session(
        net(repeated_block(2, 16, 4, "tanh", init=InitSpec(kind="xavier_uniform"))),
        data={"dataset": "spiral", "samples": 128, "noise": 0.0},
        loss="bce_with_logits",
        task={"kind": "train", "lr": 0.5, "steps": 150},
        name="Spiral, lr 0.5",
    ),
    [
        {
            "says": "the first layer's weight norm grows by more than 20% in 150 steps",
            "quantity": "result_ratio",
            "path": "history.weight_norm.-1.0",
            "denominator": "history.weight_norm.0.0",
            "above": 1.2,
        }
    ],
)

lesson(
    "09_norms_covariate_shift",
    "Norms and covariate shift",
    "gradients",
    "<p>As layer l − 1 changes during training, the distribution of layer l's inputs drifts "
    "(internal covariate shift), and every layer keeps chasing a moving target. A norm "
    "re-centres and re-scales: batch norm normalises each feature over the batch; layer, "
    "RMS, L1 and L2 norms normalise each sample over its features. Layer norm needs a mean "
    "and then a variance (two reductions), RMS norm one. Batch norm behaves differently in "
    "training and evaluation (running statistics) and cannot normalise a batch of one.</p>"
    "<p>The same 30-block tanh chain that vanished in lesson 1's tanh variant (ratio ~10⁻⁷) "
    "keeps a healthy ratio with a layer norm in every block.</p>",
    [
        "Builder ▸ Repeat a block with norm none / layer / batch / rms.",
        "Open the Norms lab for the side-by-side view and the cost.",
    ],
    session(
        net(repeated_block(2, 32, 30, "tanh", norm="layer")), name="30 tanh blocks with layer norm"
    ),
    [
        {
            "says": "with layer norm the first/last gradient ratio stays above 1e-3",
            "quantity": "gradient_ratio",
            "above": 1e-3,
        },
        {
            "says": "without it, below 1e-6",
            "quantity": "gradient_ratio",
            "below": 1e-6,
            "network": net(repeated_block(2, 32, 30, "tanh")),
        },
        {
            "says": "a layer norm's output has standard deviation 1 over its features "
            "(to 2 digits)",
            "quantity": "stat",
            "what": "output_std",
            "layer": 1,
            "equals": 1.0,
            "tolerance": 0.01,
        },
    ],
)

lesson(
    "11_float_is_not_a_hash",
    "float32 is not a hash",
    "numbers",
    "<p>A float is sign × 2^(exponent − bias) × 1.mantissa: binary scientific notation that "
    "the processor computes on directly, rounding every result to the nearest value the "
    "format holds. 0.1 has no finite binary expansion, so float32 stores "
    "0.100000001490116119384765625. The largest float32 is (2 − 2⁻²³) × 2¹²⁷ ≈ 3.4028235 × "
    "10³⁸, not 2¹²⁷; and float32 holds every integer only up to 2²⁴ = 16 777 216: 16 777 217 "
    "is stored as 16 777 216. In low precision a gradient can be fine while the update is "
    "lost (see the Numbers lab's Low precision page).</p>",
    [
        "Numbers lab ▸ Bits: type 0.1, then 16777217.",
        "Click the top exponent bit of float16.",
        "Limits: compare float16 with bfloat16.",
    ],
    session(SEED_NET, data=SEED_DATA, name="Seed example"),
    [
        {
            "says": "0.1 is stored in float32 as 0.100000001490116119384765625",
            "quantity": "float",
            "format": "float32",
            "value": "0.1",
            "equals_text": "0.100000001490116119384765625",
        },
        {
            "says": "the largest float32 is 340282346638528859811704183484516925440",
            "quantity": "limit",
            "format": "float32",
            "field": "max",
            "equals_text": "340282346638528859811704183484516925440",
        },
        {
            "says": "16777217 is stored in float32 as 16777216",
            "quantity": "float",
            "format": "float32",
            "value": "16777217",
            "equals_text": "16777216",
        },
        {
            "says": "float32 holds every integer up to 16777216",
            "quantity": "limit",
            "format": "float32",
            "field": "max_exact_integer",
            "equals_text": "16777216",
        },
    ],
)

lesson(
    "12_evolution",
    "Evolution without gradients",
    "evolution",
    "<p>A genetic algorithm needs no derivative at all: it keeps a population of whole weight "
    "sets, keeps the best (elite), mixes pairs of parents and flips random bits. Chain Lab's "
    "GA stores every weight as a 4-bit code on a log grid {0, ±α, ±α/2, …, ±α/64}: 16 codes, "
    "15 distinct values (+0 and −0 are both 0). It makes progress without a single gradient, "
    "slowly; the grid limits how far it can get.</p>",
    [
        "Evolution ▸ Start, then 4-bit vs float ▸ Compare: the GA beside OpenES and SGD.",
        "Genomes: click a code to see its 4 bits in the Numbers lab.",
    ],
    session(
        net(repeated_block(2, 16, 2, "tanh", init=InitSpec(kind="xavier_uniform"))),
        data={"dataset": "spiral", "samples": 128, "noise": 0.0},
        loss="bce_with_logits",
        task={"kind": "evolve", "population": 100, "generations": 30, "mutation_rate": 0.01},
        name="GA on the spiral",
    ),
    [
        {
            "says": "after 30 generations the best loss is lower than the first generation's",
            "quantity": "result_ratio",
            "path": "history.best.-1",
            "denominator": "history.best.0",
            "below": 1.0,
        }
    ],
)


lesson(
    "10_residual_connections",
    "Residual connections",
    "gradients",
    "<p>A residual block computes y = x + f(x) instead of f(x). Its derivative is the identity "
    "plus f's: dL/dx = dL/dy + (dL/dy · ∂f/∂x), so the gradient reaches x along the identity "
    "path unchanged however small f's share becomes. Stacked, the blocks give the gradient a "
    "straight road from the loss to the first layer: that, with norms, is what made networks "
    "of hundreds of layers trainable (ResNet, every transformer).</p><p>This lesson opens 30 "
    "residual tanh blocks (after a projection to width 32). The same chain without the "
    "identity paths vanishes (ratio ~10⁻⁷); with them the first blocks keep a gradient. Each "
    "block adds to the residual stream, so its values grow with depth: this chain trains at "
    "a small learning rate (0.003, set here) and diverges at 0.03; a norm in every block "
    "(pre-norm, as transformers do) keeps the stream in range.</p>",
    [
        "Gradient flow ▸ Plain vs residual: the twins side by side.",
        "Chain ▸ Full pass, click a residual block: its chain rule adds the two paths.",
        "Builder ▸ Repeat a block, untick residual blocks, and compare.",
    ],
    session(
        net(repeated_block(2, 32, 30, "tanh", residual=True)),
        name="30 residual tanh blocks",
        task={"kind": "train", "lr": 0.003, "steps": 100},
    ),
    [
        {
            "says": "with residual blocks the first/last gradient ratio stays above 1e-2",
            "quantity": "gradient_ratio",
            "above": 1e-2,
        },
        {
            "says": "the same layers without the identity paths: below 1e-6",
            "quantity": "gradient_ratio",
            "below": 1e-6,
            "network": net(plain_and_residual(repeated_block(2, 32, 30, "tanh", residual=True))[0]),
        },
        {
            "says": "at lr 0.003 it trains: the loss falls tenfold in 100 steps",
            "quantity": "result_ratio",
            "path": "history.loss.-1",
            "denominator": "history.loss.0",
            "below": 0.1,
        },
    ],
)

SPIRAL_NET = net(repeated_block(2, 16, 2, "tanh", init=InitSpec(kind="xavier_uniform")))
OPENES_TASK = {"kind": "evolve", "algorithm": "openes", "population": 20, "generations": 150,
               "openes": {"sigma": 0.1, "lr": 0.1}}
GRID_SESSION = session(
    SPIRAL_NET,
    data={"dataset": "spiral", "samples": 64, "noise": 0.0},
    loss="bce_with_logits",
    task=OPENES_TASK,
    name="OpenES on the spiral",
)
# SGD in the comparison tab uses the Training page's settings
GRID_SESSION["panels"] = {"train": {"kind": "train", "lr": 0.1, "momentum": 0.9, "steps": 3000}}

lesson(
    "13_grid_not_search",
    "The 4-bit grid, not the search",
    "evolution",
    "<p>The GA of the last lesson stalls near a loss of 0.65 on the spiral, whatever its "
    "settings. Is the search too weak, or is it the grid? Every GA weight is one of 15 values "
    "{0, ±α, ±α/2, …, ±α/64}. OpenES searches the same chain, with no gradient either, but "
    "over float weights: it perturbs a mean weight vector with Gaussian noise, ranks the "
    "perturbations and moves the mean towards the better ones. PSO does the same with a "
    "swarm.</p><p>On the same chain, data, population and number of generations OpenES "
    "goes well below the GA (0.39 against 0.65 here, and lower still with more "
    "generations), and snapping its best weights to the 4-bit grid throws that away (0.81): "
    "the grid, not the search, is the limit. The comparison tab puts the GA, OpenES, "
    "OpenES snapped to 4 bits and SGD on one plot, by forward passes and by wall time.</p>",
    [
        "Evolution ▸ Start: OpenES is chosen and runs live; when it stops its best float "
        "weights are in the chain (look at the decision boundary).",
        "4-bit vs float ▸ set the budget to 20000 and Compare: GA 4-bit, ES float, "
        "ES→4-bit and SGD for the same number of forward passes, and against wall time.",
        "After the OpenES run: Quantisation error of the chain, the float loss and the loss "
        "of the same weights on the grid.",
        "Choose GA (4-bit codes) and Start: more generations, a larger population, the "
        "best loss still stalls.",
    ],
    GRID_SESSION,
    [
        {
            "says": "OpenES on float weights: after 150 generations of 20 the best loss is "
            "below 0.45",
            "quantity": "result",
            "path": "loss",
            "below": 0.45,
        },
        {
            "says": "the GA with the same population and generations on the same chain "
            "stays above 0.6",
            "quantity": "result",
            "path": "history.best.-1",
            "above": 0.6,
            "task": {**OPENES_TASK, "algorithm": "ga"},
        },
        {
            "says": "OpenES's best weights snapped to the 4-bit grid lose it: above 0.6",
            "quantity": "result",
            "path": "quantised_loss",
            "above": 0.6,
        },
    ],
)

OUT.mkdir(parents=True, exist_ok=True)
for stem, data in lessons:
    (OUT / f"{stem}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
print(len(lessons), "lessons")
