"""Test-wide setup: Qt offscreen (before anything imports Qt), settings in a temp file."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep the user's real settings out of the tests; each test may point this elsewhere.
os.environ.setdefault("CHAINLAB_SETTINGS",
                      os.path.join(tempfile.mkdtemp(prefix="chainlab-settings-"), "s.ini"))
