"""The Guide: a dock with a page per part of the window that says what each plot means,
how to read it and what to try. It follows the page the window shows (F1 opens it)."""

from __future__ import annotations

from importlib import metadata

from PySide6.QtWidgets import QComboBox, QTextBrowser, QVBoxLayout, QWidget


def _version() -> str:
    try:
        return metadata.version("chainlab")
    except metadata.PackageNotFoundError:
        return "(not installed)"


ABOUT = (f"<b>Chain Lab</b> {_version()}<br>Neural-network mechanics, made visible.<br>"
         "Every number is computed by an engine checked against PyTorch autograd and "
         "torch.optim.SGD.")

TOPICS: dict[str, tuple[str, str]] = {
    "start": ("Start here", """
<h3>Start here</h3>
<p>Chain Lab shows what happens inside a chain of layers, with the real numbers.</p>
<ol>
<li><b>Build</b> a chain in the <i>Chain builder</i> (left): a preset, or “Repeat block”
for a deep one. Click a layer in the list to edit it.</li>
<li><b>Step</b> through it: <i>Step forward</i> (Ctrl+→) applies one layer, <i>Step
backward</i> (Ctrl+←) back-propagates through one. The <i>Chain</i> page shows each
layer's values and, for the selected layer, the chain rule with its numbers.</li>
<li><b>Drag</b> the input sliders (<i>Inputs</i>, left): every view recomputes live.</li>
<li><b>Watch</b> the <i>Gradient flow</i> page: how big the gradient is at each layer.</li>
<li><b>Train</b> with SGD on the <i>Training</i> page, or <b>evolve</b> the weights
without any gradient on the <i>Evolution</i> page.</li>
</ol>
<p>Pages: Ctrl+1 … Ctrl+4. The wheel scrolls panels; it changes a number only in the
field you clicked into.</p>"""),
    "chain": ("Chain", """
<h3>The Chain page</h3>
<p>Each box is a layer: linear (blue), norm (green), activation (orange). Inside: the
first sample's values for narrow layers, or the batch's ‖·‖ and standard deviation.
The edges' colour and thickness show ‖dL/d output‖ on a log scale: thin and blue where
the gradient is small, thick and red where it is large.</p>
<p><b>Click a layer</b> to see its numbers: input, output, the gradient arriving from
above (upstream), the local derivative, and the chain rule written out, e.g.
<i>dL/dz = dL/da × f′(z) = 0.01558 × 0.005427 = 8.457e−05</i>. Every number is the
engine's; the product is its result, shown beside its factors.</p>
<p>For a <b>linear layer</b> a table shows its weights and biases: type a number to set
one (a student can vary the seed example's 0.3s and watch the chain rule change).</p>
<p><b>Try</b>: the seed example with x = 10 saturates the first tanh (f′(3.3) ≈ 0.0054):
drag x towards 0.5 and watch f′ grow towards 1.</p>"""),
    "gradients": ("Gradient flow", """
<h3>The Gradient flow page</h3>
<p><b>Gradient flow per layer</b>: ‖dL/dW‖ of each linear layer and ‖dL/da‖ of each
activation, on a log scale. Bars that shrink towards the input (left) are vanishing
gradients: the first layers barely learn. Bars that grow are exploding gradients.</p>
<p><b>Activations per layer</b>: the standard deviation of each activation's output, and
the share of saturated units (|tanh| &gt; 0.97, sigmoid outside [0.03, 0.97]) or dead
ReLUs (0 for every sample). Saturated units pass almost no gradient: f′ ≈ 0.</p>
<p><b>Distributions</b>: one row per activation layer (input end at the bottom). Left,
the values each layer outputs; right, log₁₀|dL/da|, so a gradient that vanishes with
depth shows as a distribution sliding left. Colour is the density (log scale, bar on
the right). Click a row (or choose a layer) to see that layer's histogram below.</p>
<p><b>Try</b>: “Deep sigmoid, 30 layers” (vanishes), then “Deep ReLU, Kaiming init”
(healthy), then a deep tanh with layer norm.</p>"""),
    "training": ("Training", """
<h3>The Training page</h3>
<p>Run/Pause (Ctrl+R), Step and Reset sit at the top; the settings below apply at once.
Run stops at <b>steps</b>, as a headless run of the session does; raise it to go on.
The learning rate, momentum, weight decay, Nesterov and the batch size change a
running training at its next step; the data, the loss and the chain restart it.</p>
<p><b>Training loss</b> per step (log scale). <b>Decision boundary</b> on 2-D data:
the chain's probability of class 1 (orange → blue), or for K classes each region in its
class's colour, paler where the chain is less sure. <b>Update-to-data ratio</b>:
std(ΔW)/std(W) of each linear layer's applied update; about 1e-3 (the dashed line) is
the healthy rule of thumb: far below, the layer learns slowly; far above, it thrashes.
<b>Weight norm</b> and <b>output norm</b> per layer over the steps. Deep chains show up
to eight layers, spread from the input to the output.</p>
<p>If a run explodes, the status line says where the first NaN/Inf appeared; Reset
goes back to the session's own parameters (as opened, or typed into the weights table),
or re-initialises from the seed when it has none.</p>
<p><b>Low-precision storage</b>: keep the weights in float16, bfloat16 or float8 while the
chain computes in its own dtype; after every update each weight is rounded to the
format (to nearest, or stochastically: up or down with the odds that make it right on
average). The <b>swamped updates</b> plot shows, per layer, the share of updates that
rounding put back where they were: the gradient was fine, the update was smaller than
half the gap to the next weight the format holds.</p>
<p><b>Try</b>: the seed example at lr 0.1 stored in bfloat16: the first layer's weight
never moves (100% swamped); choose stochastic rounding and it starts to.</p>"""),
    "evolution": ("Evolution", """
<h3>The Evolution page</h3>
<p>A genetic algorithm evolves whole weight sets with no gradient: each individual's
weights are 4-bit codes on a log grid {0, ±α, ±α/2, …, ±α/64}. Each generation keeps the
best (elite), picks parents (tournament, uniform or rank), mixes them code by code
(crossover) and flips bits at the bit-flip rate (mutation).</p>
<p><b>Start</b> begins a new run (run 1, 2, …; the plots show the current one),
<b>Continue</b> extends a paused run, <b>Step</b> runs one generation, <b>Stop</b> ends the
run keeping its curves, <b>Reset</b> clears them. <b>Use best</b> loads the best
individual into the chain, so every other page shows it.</p>
<p><b>Progress</b>: best, mean ± sd and worst loss; diversity (mean pairwise Hamming
distance in bits: when it collapses, the population has converged); the best's
decision boundary. <b>Genomes</b>: the best 48 individuals' codes, and how one child was
made (GA only). <b>Algorithm</b>: the GA evolves 4-bit codes; OpenES and PSO evolve the
same weights as floats (their settings show when chosen); for all three “Use the best
in the chain” is how a run's best reaches the chain. <b>Islands</b> (GA): that many
populations side by side, passing their best round a ring. <b>4-bit vs float</b>: Compare
runs the GA, OpenES, OpenES's best snapped to the 4-bit grid, and SGD on the chain for
the same number of forward passes, against forward passes and wall time: the grid, not
the search, limits the GA.</p>
<p><b>Try</b>: “Quantisation error of the chain” after training with SGD: how much does
snapping the trained weights to the 4-bit grid cost?</p>"""),
    "numbers": ("Numbers lab", """
<h3>The Numbers lab (Ctrl+5)</h3>
<p>A float is not a hash and is not stored “as is”: it is sign × 2^(exponent − bias) ×
1.mantissa, binary scientific notation the processor computes on directly, and every
result is rounded to the nearest value the format holds.</p>
<p><b>Bits</b>: type a number; each format shows its pattern (sign red, exponent green,
mantissa blue), the value it really stores, to the last digit, and the error. Click a
bit to flip it. The details give the ULP (the gap to the next value) and both
neighbours. <b>Limits</b>: every format's range and resolution. <b>Integers</b>: two's
complement, and overflow: 2 147 483 647 + 1 wraps to −2 147 483 648.
<b>Accumulation</b>: add 0.1 a million times; in float16 the sum stops at 256, because
there half the gap between neighbours exceeds 0.1. <b>Speed</b>: are ints faster?
Measure it. <b>Low precision</b>: one training run per storage format, side by
side.</p>
<p><b>Try</b>: right-click a layer in the chain view ▸ Show bits of a gradient;
type 16777217 and look at float32; click the top exponent bit of float16.</p>"""),
    "activations": ("Activation lab", """
<h3>The Activation lab (Ctrl+6)</h3>
<p><b>f and f′</b> of every activation over a range you choose, the largest f′ marked:
sigmoid's is 0.25 (at 0), tanh's 1 (only at 0), ReLU's exactly 1 wherever it is
active.</p>
<p><b>Compounding</b>: the backward pass multiplies one f′ per layer, so a chain of depth
n scales the gradient by roughly their product: 0.25ⁿ at best for sigmoid (0.25⁵ ≈ 0.001).
The plot puts the prediction (the product of the measured mean f′ per layer, and with the
weights' gain) beside the <i>measured</i> ‖dL/da‖ of a real chain of that kind, with the
0.8ⁿ line for scale.</p>
<p><b>Try</b>: sigmoid at depth 30, then relu with Kaiming initialisation.</p>"""),
    "norms": ("Norms lab", """
<h3>The Norms lab (Ctrl+7)</h3>
<p><b>Without vs with</b>: the same chain, seed and batch without norms and with a norm in
every block: the mean and std before and after the norm, and the gradient per layer.
“Use this norm in the chain” sets every norm of the app's chain at once.</p>
<p><b>Covariate shift</b>: both chains train on the same data from the same start; the
image shows how a layer's input distribution drifts over the steps without the norm and
stays put with it. Drag the timeline to any recorded step.</p>
<p><b>Axis</b>: click an entry of a batch × features grid to see what each norm averages
over (batch norm: its column over the batch; layer, RMS, L1, L2: its row over the
features), and what batch norm does with a batch of one or in evaluation mode.</p>
<p><b>Cost</b>: the reductions each norm needs (layer norm: a mean, then a variance; RMS:
one) and their measured time, the engine's against torch's own modules.</p>"""),
    "lessons": ("Lessons", """
<h3>Lessons (F2)</h3>
<p>Each lesson is a short text, a session and the page to look at. <b>Open</b> loads the
session and shows the page; the text stays in the dock beside it. <b>Check its claims</b>
computes every number the lesson states with the engine: a lesson cannot teach what the
simulator does not show (<i>./run-app lessons --check</i> does the same for all of
them).</p>"""),
    "files": ("Files and export", """
<h3>Files and export</h3>
<p>File ▸ Save writes the session (the chain with every parameter and batch norm's
running statistics, the data, every panel's settings) as JSON; File ▸ Open reads it
back, and <i>./run-app run SESSION.json --out DIR</i> runs it headless. A bad file is
reported and the open session kept.</p>
<p>Right-click any plot to export it as PNG, SVG or CSV (the raw values), or use
File ▸ Export plot (Ctrl+E). File ▸ Export as PyTorch code writes a script that rebuilds
the chain as torch.nn.Sequential with its parameters.</p>"""),
}


class GuidePanel(QWidget):
    """A topic chooser and the topic's page."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.topics = QComboBox()
        for key, (title, _text) in TOPICS.items():
            self.topics.addItem(title, key)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        layout.addWidget(self.topics)
        layout.addWidget(self.text, 1)
        self.topics.currentIndexChanged.connect(self._on_topic)
        self._on_topic(0)

    def show_topic(self, key: str) -> None:
        index = self.topics.findData(key)
        if index >= 0:
            self.topics.setCurrentIndex(index)

    def _on_topic(self, index: int) -> None:
        self.text.setHtml(TOPICS[self.topics.itemData(index)][1])
