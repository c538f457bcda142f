"""The ``--out`` folder, replaced as a unit.

Checked before any work: an empty path, an existing file, a folder that is not Chain
Lab's (it would be replaced) and an unwritable place are refused up front. The run then
writes into a staging folder beside ``--out`` (same parent, so the final step is a
rename within one file system), and :meth:`OutputFolder.commit` swaps it in: the old
folder is renamed aside, the staging folder renamed to ``--out``, the old one removed.
If anything fails, or the run is aborted, :meth:`discard` removes the staging folder and
the old ``--out`` is exactly as it was; a reused folder holds only the new run's files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from engine.data.files import umask
from engine.data.session import SessionError

RESULT = "result.json"
RESULT_FORMAT = "chainlab-result/1"


def _refuse(message: str) -> SessionError:
    return SessionError("--out", message)


def _is_chainlab_result(folder: Path) -> bool:
    """An empty folder, or one a previous run wrote (its result.json starts by saying so:
    the runner writes the format first)."""
    if not any(folder.iterdir()):
        return True
    try:
        with (folder / RESULT).open(errors="replace") as stream:
            start = stream.read(4096)
    except OSError:
        return False
    return f'"format": "{RESULT_FORMAT}"' in start


class OutputFolder:
    """``--out``: checked and staged by :meth:`prepare`, swapped in by :meth:`commit`."""

    def __init__(self, target: Path, staging: Path, created: list[Path]) -> None:
        self.target, self.staging = target, staging
        self._created = created  # parent folders made for it, removed again on discard

    @classmethod
    def prepare(cls, out: str) -> OutputFolder:
        """Check ``out`` and make the staging folder; raises SessionError (``--out``)."""
        if not out.strip():
            raise _refuse("the path is empty")
        target = Path(out).absolute()
        if target.exists() or target.is_symlink():
            if not target.is_dir() or target.is_symlink():
                raise _refuse(f"{out} exists and is not a folder")
            if not _is_chainlab_result(target):
                raise _refuse(f"{out} is a folder that a Chain Lab run did not write (no "
                              f"{RESULT} of format {RESULT_FORMAT}); it would be replaced: "
                              "choose a new or empty folder")
        created = [p for p in reversed(target.parents) if not p.exists()]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.chainlab-staging-",
                                            dir=target.parent))
        except OSError as error:
            for folder in reversed(created):
                _remove_empty(folder)
            raise _refuse(f"cannot write to {out}: {error.strerror or error}") from None
        return cls(target, staging, created)

    def commit(self) -> None:
        """Put the staged files in place as ``--out``, replacing an old folder whole."""
        old = None
        try:
            # mkdtemp made it 0700; a folder made in place would be 0777 less the umask
            os.chmod(self.staging, 0o777 & ~umask())
            if self.target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.chainlab-old-",
                                            dir=self.target.parent))
                os.replace(self.target, old)  # onto the empty folder just made
            os.replace(self.staging, self.target)
        except BaseException as error:  # an OSError, or an abort that got through
            if old is not None and not self.target.exists():
                os.replace(old, self.target)  # put the old results back
                old = None
            self.discard()
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            if not isinstance(error, OSError):
                raise
            raise _refuse(f"cannot write to {self.target}: {error.strerror or error}") \
                from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        """Remove the staging folder (and parents made for it); ``--out`` is untouched."""
        shutil.rmtree(self.staging, ignore_errors=True)
        for folder in reversed(self._created):
            _remove_empty(folder)


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (someone else's files): keep it
        folder.rmdir()
