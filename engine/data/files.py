"""Reading the files a session names, with limits: regular files only, bounded sizes.

A FIFO or a device (``/dev/zero``) as a session or CSV path would block forever or be
read until memory runs out; a regular file is checked with ``stat`` (which never
blocks) before it is opened, and read up to a size limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MB = 1 << 20
SESSION_LIMIT = 256 * MB  # a session with explicit weights of a few large layers
CSV_LIMIT = 2048 * MB


class FileLimitError(ValueError):
    """A file that is not a regular file, too large, or unreadable; says which."""


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def regular_file_size(path: Path, limit: int) -> int:
    """The size of ``path`` after checking it is a regular file within ``limit`` bytes."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise FileLimitError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError:  # a NUL byte: no file can have that name
        raise FileLimitError(f"{str(path)!r} is not a file name: it holds a NUL "
                             "character") from None
    if not stat.S_ISREG(info.st_mode):
        raise FileLimitError(f"{path} is {_describe(info.st_mode)}, not a regular file")
    if info.st_size > limit:
        raise FileLimitError(f"{path} is {info.st_size / MB:.0f} MB; the limit is "
                             f"{limit / MB:.0f} MB")
    return info.st_size


def read_text(path: Path, limit: int) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (a BOM is dropped)."""
    regular_file_size(path, limit)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the check, open at once
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise FileLimitError(f"{path} is not a regular file")
            data = stream.read(limit + 1)
    except OSError as error:
        raise FileLimitError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > limit:
        raise FileLimitError(f"{path} is larger than the limit of {limit / MB:.0f} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileLimitError(f"cannot read {path}: not UTF-8 text (byte {error.start})") \
            from None


def umask() -> int:
    try:  # Linux tells the umask without changing it (other threads may be creating files)
        status = Path("/proc/self/status").read_text()
        return next(int(line.split()[1], 8) for line in status.splitlines()
                    if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def mode_for(path: Path) -> int:
    """What writing ``path`` in place would leave: an existing file keeps its mode, a new
    one gets 0666 less the umask (a temporary file from ``mkstemp`` would be 0600)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~umask()
