"""Chain builder: add, remove, reorder and edit layers; repeat a block; presets.

Shows the state's architecture and rebuilds its list on ``chain_changed``. Every edit
goes through ``AppState.set_layers`` / ``set_network``.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.core.activations import ACTIVATIONS
from engine.core.specs import (
    INIT_KINDS,
    NORM_KINDS,
    ActivationSpec,
    InitSpec,
    LinearSpec,
    NormSpec,
    repeated_block,
)
from gui.presets import PRESETS
from gui.state import AppState


def describe(spec: object) -> str:
    if isinstance(spec, LinearSpec):
        explicit = " (explicit)" if spec.weight is not None else ""
        return f"linear → {spec.out_features}   init {spec.init.kind}{explicit}"
    if isinstance(spec, NormSpec):
        return f"norm: {spec.kind}"
    assert isinstance(spec, ActivationSpec)
    return f"activation: {spec.kind}"


class ChainBuilderPanel(QWidget):
    """Edits the chain's architecture. Listens to ``chain_changed``."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        layout = QVBoxLayout(self)

        presets = QHBoxLayout()
        self.preset_box = QComboBox()
        self.preset_box.addItems(list(PRESETS))
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
        self.global_activation.activated.connect(
            lambda _: state.set_all_activations(self.global_activation.currentText()))
        switch.addWidget(self.global_activation, 1)
        layout.addLayout(switch)

        self.input_label = QLabel()
        layout.addWidget(self.input_label)
        self.layer_list = QListWidget()
        self.layer_list.currentRowChanged.connect(self._on_selection)
        layout.addWidget(self.layer_list, 1)

        buttons = QHBoxLayout()
        self.add_linear = self._button(buttons, "+ Linear", lambda: self._insert(
            LinearSpec(out_features=8)))
        self.add_norm = self._button(buttons, "+ Norm", lambda: self._insert(NormSpec()))
        self.add_activation = self._button(buttons, "+ Act", lambda: self._insert(
            ActivationSpec.model_validate({"kind": self.global_activation.currentText()})))
        layout.addLayout(buttons)
        moves = QHBoxLayout()
        self.remove_button = self._button(moves, "Remove", self._remove)
        self.up_button = self._button(moves, "Up", lambda: self._move(-1))
        self.down_button = self._button(moves, "Down", lambda: self._move(1))
        layout.addLayout(moves)

        self.editor = QStackedWidget()
        self.editor.addWidget(QLabel("Select a layer to edit it."))
        self.editor.addWidget(self._linear_editor())
        self.editor.addWidget(self._norm_editor())
        self.editor.addWidget(self._activation_editor())
        layout.addWidget(self.editor)
        layout.addWidget(self._repeat_group())

        state.chain_changed.connect(self._on_chain_changed)
        self._on_chain_changed()

    @staticmethod
    def _button(layout: QHBoxLayout, text: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        layout.addWidget(button)
        return button

    def _linear_editor(self) -> QWidget:
        box = QGroupBox("Linear layer")
        form = QFormLayout(box)
        self.width_spin = QSpinBox()
        self.width_spin.setRange(1, 4096)
        self.width_spin.editingFinished.connect(lambda: self._edit(
            out_features=self.width_spin.value(), weight=None, bias=None))
        self.init_box = QComboBox()
        self.init_box.addItems(list(INIT_KINDS))
        self.init_box.activated.connect(lambda _: self._edit(
            init=InitSpec.model_validate(self.init_box.currentText()), weight=None, bias=None))
        form.addRow("width", self.width_spin)
        form.addRow("initialiser", self.init_box)
        return box

    def _norm_editor(self) -> QWidget:
        box = QGroupBox("Norm layer")
        form = QFormLayout(box)
        self.norm_box = QComboBox()
        self.norm_box.addItems(list(NORM_KINDS))
        self.norm_box.activated.connect(lambda _: self._edit(
            kind=self.norm_box.currentText(), weight=None, bias=None, eps=None))
        form.addRow("kind", self.norm_box)
        return box

    def _activation_editor(self) -> QWidget:
        box = QGroupBox("Activation layer")
        form = QFormLayout(box)
        self.activation_box = QComboBox()
        self.activation_box.addItems(list(ACTIVATIONS))
        self.activation_box.activated.connect(lambda _: self._edit(
            kind=self.activation_box.currentText()))
        form.addRow("kind", self.activation_box)
        return box

    def _repeat_group(self) -> QWidget:
        box = QGroupBox("Repeat block: (linear → [norm] → activation) × depth → linear")
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
        self.repeat_button = QPushButton("Build chain")
        self.repeat_button.clicked.connect(self._on_repeat)
        form.addRow("width", self.repeat_width)
        form.addRow("depth", self.repeat_depth)
        form.addRow("norm", self.repeat_norm)
        form.addRow("activation", self.repeat_activation)
        form.addRow("initialiser", self.repeat_init)
        form.addRow("outputs", self.repeat_outputs)
        form.addRow(self.repeat_button)
        return box

    # -- actions ---------------------------------------------------------------------------

    def _on_preset(self) -> None:
        build = PRESETS[self.preset_box.currentText()]
        self.state.set_network(build(self.state.network.input_size))

    def _on_repeat(self) -> None:
        norm = self.repeat_norm.currentText()
        self.state.set_network(repeated_block(
            self.state.network.input_size, self.repeat_width.value(), self.repeat_depth.value(),
            self.repeat_activation.currentText(), None if norm == "none" else norm,
            self.repeat_outputs.value(), InitSpec.model_validate(self.repeat_init.currentText())))

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
        if 0 <= row < self.layer_list.count():
            self.layer_list.setCurrentRow(row)
        self._on_selection(self.layer_list.currentRow())
        kinds = {s.kind for s in network.layers if isinstance(s, ActivationSpec)}
        if len(kinds) == 1:
            self.global_activation.setCurrentText(kinds.pop())

    def _on_selection(self, row: int) -> None:
        layers = self.state.network.layers
        if not 0 <= row < len(layers):
            self.editor.setCurrentIndex(0)
            return
        spec = layers[row]
        if isinstance(spec, LinearSpec):
            self.width_spin.setValue(spec.out_features)
            self.init_box.setCurrentText(spec.init.kind)
            self.editor.setCurrentIndex(1)
        elif isinstance(spec, NormSpec):
            self.norm_box.setCurrentText(spec.kind)
            self.editor.setCurrentIndex(2)
        else:
            self.activation_box.setCurrentText(spec.kind)
            self.editor.setCurrentIndex(3)
