"""Start or join Ray for a command's run: ``--ray auto`` or ``--ray HOST:PORT``.

``auto`` calls ``ray.init()`` with no address: it joins the cluster that ``RAY_ADDRESS``
or the latest ``ray start`` on this machine names, and starts a local instance when there
is none (``ray.init(address="auto")`` would refuse instead). ``HOST:PORT`` (or
``ray://HOST:PORT``) must reach a running cluster: the port is tried first (does it
answer, and in gRPC?), because ``ray.init`` keeps retrying an unreachable or foreign one
for minutes. ``ray.shutdown()`` at the end
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
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER = 9  # bytes: length (3), type (1), flags (1), stream (4)
SETTINGS_FRAME = 0x4
EMPTY_SETTINGS_FRAME = bytes([0, 0, 0, SETTINGS_FRAME, 0, 0, 0, 0, 0])


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
    """Refuse, within about :data:`PROBE_SECONDS` each, an address whose port does not
    answer, or answers but does not speak gRPC (HTTP/2) as Ray's control store and client
    server do: ``ray.init`` would retry either for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"expected 'auto', HOST:PORT or ray://HOST:PORT, got "
                             f"{address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE_SECONDS) as probe:
            speaks_grpc = _answers_http2(probe)
    except OSError as error:
        raise RayUnavailable(f"cannot reach a Ray cluster at {address}: "
                             f"{error.strerror or error}") from None
    if not speaks_grpc:
        raise RayUnavailable(f"{address} answers but is not a Ray cluster (it does not "
                             "speak gRPC); give the address `ray start --head` printed")


def _answers_http2(connection: socket.socket) -> bool:
    """Whether the peer answers an HTTP/2 client preface with a SETTINGS frame, as every
    HTTP/2 server must first (RFC 9113, 3.4). Silence until the timeout counts as no."""
    connection.sendall(HTTP2_PREFACE + EMPTY_SETTINGS_FRAME)
    header = b""
    try:
        while len(header) < FRAME_HEADER:
            chunk = connection.recv(FRAME_HEADER - len(header))
            if not chunk:
                break
            header += chunk
    except TimeoutError:
        return False
    return len(header) == FRAME_HEADER and header[3] == SETTINGS_FRAME


def first_line(error: BaseException) -> str:
    """An exception's message on one line (Ray's span many), or its type's name."""
    text = str(error).strip().strip("'\"").strip()
    return text.splitlines()[0] if text else type(error).__name__
