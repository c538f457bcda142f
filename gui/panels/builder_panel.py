"""Chain builder: add, remove, reorder and edit layers; repeat a block; presets.

Shows the state's architecture and rebuilds its list on ``chain_changed``. Every edit
goes through ``AppState.set_layers`` / ``set_network``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.activations import ACTIVATIONS
from engine.core.spec_edits import chain_norm_kind
from engine.core.specs import (
    INIT_KINDS,
    NORM_KINDS,
    ActivationSpec,
    InitSpec,
    LinearSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
    repeated_block,
)
from gui.busy import busy
from gui.layer_editor import LayerEditor
from gui.presets import PRESETS
from gui.state import AppState


def describe(spec: object) -> str:
    if isinstance(spec, LinearSpec):
        explicit = " (explicit)" if spec.weight is not None else ""
        return f"linear → {spec.out_features}   init {spec.init.kind}{explicit}"
    if isinstance(spec, NormSpec):
        return f"norm: {spec.kind}"
    if isinstance(spec, ResidualSpec):
        return "residual x + f(x), f: " + " → ".join(_short(inner) for inner in spec.layers)
    assert isinstance(spec, ActivationSpec)
    return f"activation: {spec.kind}"


def _short(spec: object) -> str:
    """A layer inside a residual block, in a word or two."""
    if isinstance(spec, LinearSpec):
        return f"linear {spec.out_features}"
    if isinstance(spec, NormSpec):
        return f"{spec.kind} norm"
    if isinstance(spec, ResidualSpec):
        return "residual(…)"
    assert isinstance(spec, ActivationSpec)
    return spec.kind


class ChainBuilderPanel(QWidget):
    """Edits the chain's architecture. Listens to ``chain_changed``."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        layout = QVBoxLayout(self)

        presets = QHBoxLayout()
        self.preset_box = QComboBox()
        self.preset_box.setPlaceholderText("Presets…")
        self.preset_box.addItems(list(PRESETS))
        self.preset_box.setCurrentIndex(-1)  # a preset is loaded by the button, not shown
        # the long preset names show in the list; the box itself stays narrow
        self.preset_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_box.setMinimumContentsLength(16)
        self.preset_button = QPushButton("Load preset")
        self.preset_button.setToolTip("Replace the chain with this preset")
        self.preset_button.clicked.connect(self._on_preset)
        presets.addWidget(self.preset_box, 1)
        presets.addWidget(self.preset_button)
        layout.addLayout(presets)

        switch = QHBoxLayout()
        switch.addWidget(QLabel("All activations:"))
        self.global_activation = QComboBox()
        self.global_activation.addItems(list(ACTIVATIONS))
        self.global_activation.setToolTip("Switch every activation layer at once")
        self.global_activation.activated.connect(self._on_all_activations)
        switch.addWidget(self.global_activation, 1)
        layout.addLayout(switch)
        norms = QHBoxLayout()
        norms.addWidget(QLabel("All norms:"))
        self.global_norm = QComboBox()
        self.global_norm.addItems(["none", *NORM_KINDS])
        self.global_norm.setToolTip("One switch for the whole chain: a norm of this kind "
                                    "after every hidden linear layer (none removes them all)")
        self.global_norm.activated.connect(self._on_all_norms)
        norms.addWidget(self.global_norm, 1)
        layout.addLayout(norms)

        self.input_label = QLabel()
        layout.addWidget(self.input_label)
        self.layer_list = QListWidget()
        self.layer_list.currentRowChanged.connect(self._on_selection)
        layout.addWidget(self.layer_list, 1)

        buttons = QHBoxLayout()
        self.add_linear = self._button(buttons, "+ Linear", lambda: self._insert(
            LinearSpec(out_features=8)))
        self.add_norm = self._button(buttons, "+ Norm", lambda: self._insert(NormSpec()))
        self.add_activation = self._button(buttons, "+ Activation", lambda: self._insert(
            ActivationSpec.model_validate({"kind": self.global_activation.currentText()})))
        layout.addLayout(buttons)
        moves = QHBoxLayout()
        self.remove_button = self._button(moves, "Remove", self._remove)
        self.up_button = self._button(moves, "Up", lambda: self._move(-1))
        self.down_button = self._button(moves, "Down", lambda: self._move(1))
        layout.addLayout(moves)

        self.editor = LayerEditor()
        self.editor.edited.connect(lambda changes: self._edit(**changes))
        layout.addWidget(self.editor)
        self.repeat_toggle = QToolButton()
        self.repeat_toggle.setText("Repeat a block (deep chains)")
        self.repeat_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.repeat_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.repeat_toggle.setCheckable(True)
        self.repeat_toggle.setAutoRaise(True)
        self.repeat_group = self._repeat_group()
        self.repeat_group.setVisible(False)
        self.repeat_toggle.toggled.connect(self._on_repeat_toggled)
        layout.addWidget(self.repeat_toggle)
        layout.addWidget(self.repeat_group)
        precision = QHBoxLayout()
        precision.addWidget(QLabel("Compute in:"))
        self.dtype_box = QComboBox()
        self.dtype_box.addItems(["float32", "float64"])
        self.dtype_box.setToolTip("The dtype of every tensor; switching keeps the parameters "
                                  "(rounded to float32 when going down)")
        self.dtype_box.activated.connect(
            lambda _: self.state.set_dtype(self.dtype_box.currentText()))
        precision.addWidget(self.dtype_box, 1)
        layout.addLayout(precision)

        state.chain_changed.connect(self._on_chain_changed)
        self._on_chain_changed()

    @staticmethod
    def _button(layout: QHBoxLayout, text: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        layout.addWidget(button)
        return button

    def _on_repeat_toggled(self, shown: bool) -> None:
        self.repeat_group.setVisible(shown)
        self.repeat_toggle.setArrowType(Qt.ArrowType.DownArrow if shown
                                        else Qt.ArrowType.RightArrow)

    def _repeat_group(self) -> QWidget:
        box = QGroupBox("Block × depth")
        box.setToolTip("(linear → [norm] → activation) × depth, then a linear output layer")
        form = QFormLayout(box)
        self.repeat_width = QSpinBox()
        self.repeat_width.setRange(1, 1024)
        self.repeat_width.setValue(32)
        self.repeat_depth = QSpinBox()
        self.repeat_depth.setRange(1, 200)
        self.repeat_depth.setValue(30)
        self.repeat_norm = QComboBox()
        self.repeat_norm.addItems(["none", *NORM_KINDS])
        self.repeat_activation = QComboBox()
        self.repeat_activation.addItems(list(ACTIVATIONS))
        self.repeat_activation.setCurrentText("tanh")
        self.repeat_init = QComboBox()
        self.repeat_init.addItems(list(INIT_KINDS))
        self.repeat_outputs = QSpinBox()
        self.repeat_outputs.setRange(1, 64)
        self.repeat_residual = QCheckBox("residual blocks: x + f(x)")
        self.repeat_residual.setToolTip("Each block adds its input to its output, so the "
                                        "gradient has a path past every layer")
        self.repeat_placement = QComboBox()
        self.repeat_placement.addItems(["pre-norm: x + f(norm(x))",
                                        "post-norm: norm(x + f(x))"])
        self.repeat_placement.setEnabled(False)
        self.repeat_residual.toggled.connect(self.repeat_placement.setEnabled)
        self.repeat_button = QPushButton("Build chain")
        self.repeat_button.clicked.connect(self._on_repeat)
        form.addRow("width", self.repeat_width)
        form.addRow("depth", self.repeat_depth)
        form.addRow("norm", self.repeat_norm)
        form.addRow("activation", self.repeat_activation)
        form.addRow("initialiser", self.repeat_init)
        form.addRow("outputs", self.repeat_outputs)
        form.addRow(self.repeat_residual)
        form.addRow("norm goes", self.repeat_placement)
        form.addRow(self.repeat_button)
        return box

    # -- actions ---------------------------------------------------------------------------

    def _on_all_norms(self) -> None:
        kind = self.global_norm.currentText()
        with busy(self, "switching every norm…"):
            self.state.set_chain_norm(None if kind == "none" else kind)

    def _on_all_activations(self) -> None:
        with busy(self, "switching every activation…"):
            self.state.set_all_activations(self.global_activation.currentText())

    def _on_preset(self) -> None:
        if self.preset_box.currentIndex() < 0:
            self.preset_box.showPopup()
            return
        build = PRESETS[self.preset_box.currentText()]
        self._build(build(self.state.network.input_size))
        # back to "Presets…": the box would otherwise go on naming a chain since edited
        self.preset_box.setCurrentIndex(-1)

    def _on_repeat(self) -> None:
        norm = self.repeat_norm.currentText()
        self._build(repeated_block(
            self.state.network.input_size, self.repeat_width.value(), self.repeat_depth.value(),
            self.repeat_activation.currentText(), None if norm == "none" else norm,
            self.repeat_outputs.value(), InitSpec.model_validate(self.repeat_init.currentText()),
            residual=self.repeat_residual.isChecked(),
            norm_placement="pre" if self.repeat_placement.currentIndex() == 0 else "post"))

    def _build(self, network: NetworkSpec) -> None:
        """A new chain; the window says so while it is built."""
        with busy(self, f"building a chain of {len(network.layers)} layers…"):
            self.state.set_network(network)

    def _layers(self) -> list:
        return list(self.state.network.layers)

    def _insert(self, spec: object) -> None:
        layers = self._layers()
        row = self.layer_list.currentRow()
        position = row + 1 if row >= 0 else len(layers)
        layers.insert(position, spec)
        self._pending_row = position
        self.state.set_layers(layers)

    def _remove(self) -> None:
        row = self.layer_list.currentRow()
        if row < 0:
            return
        layers = self._layers()
        del layers[row]
        self._pending_row = min(row, len(layers) - 1)
        self.state.set_layers(layers)

    def _move(self, delta: int) -> None:
        row = self.layer_list.currentRow()
        target = row + delta
        layers = self._layers()
        if row < 0 or not 0 <= target < len(layers):
            return
        layers[row], layers[target] = layers[target], layers[row]
        self._pending_row = target
        self.state.set_layers(layers)

    def _edit(self, **changes: object) -> None:
        row = self.layer_list.currentRow()
        if row < 0:
            return
        layers = self._layers()
        updated = layers[row].model_copy(update=changes)
        if updated == layers[row]:
            return
        layers[row] = type(updated).model_validate(updated.model_dump())
        self._pending_row = row
        with busy(self, f"rebuilding the chain ({len(layers)} layers)…"):
            self.state.set_layers(layers)

    # -- view ------------------------------------------------------------------------------

    _pending_row: int = -1

    def _on_chain_changed(self) -> None:
        network = self.state.network
        self.input_label.setText(f"Inputs: {network.input_size} feature(s), from the data;"
                                 f" outputs: {network.output_size()}")
        row = self._pending_row if self._pending_row >= 0 else self.layer_list.currentRow()
        self._pending_row = -1
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        for index, spec in enumerate(network.layers):
            self.layer_list.addItem(f"{index:>3}  {describe(spec)}")
        self.layer_list.blockSignals(False)
        kind = chain_norm_kind(network)
        if kind is not None:  # the switch says what the chain has (mixed: as it was)
            self.global_norm.setCurrentText(kind)
        if 0 <= row < self.layer_list.count():
            self.layer_list.setCurrentRow(row)
        self._on_selection(self.layer_list.currentRow())
        kinds = {s.kind for s in network.layers if isinstance(s, ActivationSpec)}
        if len(kinds) == 1:
            self.global_activation.setCurrentText(kinds.pop())
        self.dtype_box.setCurrentText(self.state.session.dtype)

    def _on_selection(self, row: int) -> None:
        layers = self.state.network.layers
        self.editor.show_spec(layers[row] if 0 <= row < len(layers) else None)
