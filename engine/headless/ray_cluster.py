"""Start or join Ray for a command's run: ``--ray auto`` or ``--ray HOST:PORT``.

``auto`` calls ``ray.init()`` with no address: it joins the cluster that ``RAY_ADDRESS``
or the latest ``ray start`` on this machine names, and starts a local instance when there
is none (``ray.init(address="auto")`` would refuse instead). ``HOST:PORT`` (or
``ray://HOST:PORT``) must reach a running cluster: the port is tried first, because
``ray.init`` keeps retrying an unreachable one for minutes. ``ray.shutdown()`` at the end
stops an instance this process started and only disconnects from one it joined.

Used by ``main.py run`` (island evolution on Ray actors) and ``main.py sweep`` (cells as
Ray tasks).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

AUTO = "auto"
PROBE_SECONDS = 5.0


class RayUnavailable(ValueError):
    """Ray is not installed, the address is malformed, or the cluster cannot be reached."""


@contextmanager
def ray_connection(address: str) -> Iterator[None]:
    """Start or join Ray for the block (see the module's docstring); shut it down after.

    Raises
    ------
    RayUnavailable
        Ray is not installed, or the cluster cannot be reached; the message says which.
    """
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable(f"Ray is not installed ({error}): pip install "
                             "'ray>=2.40'") from None
    if address != AUTO:
        _probe(address)
    try:
        # the dashboard needs packages a plain `pip install ray` lacks; the runs' own
        # output goes to their folders, so workers' stdout is not echoed here
        ray.init(address=None if address == AUTO else address, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR)
    except Exception as error:  # whatever Ray raises, the run cannot use it
        raise RayUnavailable(f"cannot start or join Ray at {address}: "
                             f"{first_line(error)}") from None
    try:
        yield
    finally:
        ray.shutdown()


def _probe(address: str) -> None:
    """Refuse an address whose port does not answer, within :data:`PROBE_SECONDS`."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"expected 'auto', HOST:PORT or ray://HOST:PORT, got "
                             f"{address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_SECONDS).close()
    except OSError as error:
        raise RayUnavailable(f"cannot reach a Ray cluster at {address}: "
                             f"{error.strerror or error}") from None


def first_line(error: BaseException) -> str:
    """An exception's message on one line (Ray's span many), or its type's name."""
    text = str(error).strip().strip("'\"").strip()
    return text.splitlines()[0] if text else type(error).__name__
