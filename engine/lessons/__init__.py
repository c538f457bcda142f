"""Guided lessons: a text, a session, the panel to look at, and claims checked against
the engine (the top engine layer: a claim may run any task)."""
