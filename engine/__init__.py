"""Chain Lab's simulation engine: numpy and torch only, never Qt.

Everything the GUI and the headless runner show is computed here.
"""
