"""Files the CLI writes (backups, exports): private, never clobbered, never through a link.

A backup holds every password hash and email; an export holds every verse and username.
So a new file is created with mode 0600, an existing file is replaced only when the
operator says ``--force``, and a symbolic link planted at the target is never followed:
the data is written to a new file beside the target (``O_CREAT | O_EXCL | O_NOFOLLOW``, a
random name), and only once it is complete does it take the target's name, by ``link``
(which fails if the name exists, whatever it is) or, with ``--force``, by ``rename``
(which replaces a link itself, not what it points to). A failed write leaves no half file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from app.errors import BahrDataError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0)


class TargetExists(BahrDataError):  # noqa: N818 - reads as a sentence at the call site
    """The output file exists and ``--force`` was not given."""


def _exists(path: Path, hint: str = "add --force to replace it") -> TargetExists:
    return TargetExists(f"{path} exists; {hint}", rule="no_overwrite")


@contextlib.contextmanager
def private_output(path: Path, *, force: bool) -> Iterator[BinaryIO]:
    """A new binary file, mode 0600, that becomes ``path`` when the block ends normally."""
    if not force and os.path.lexists(path):
        raise _exists(path)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial")
    try:
        fd = os.open(partial, _FLAGS, 0o600)
    except OSError as exc:
        # Name the file the operator asked for, not our temporary one.
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(partial, path)
        else:
            try:
                os.link(partial, path)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise _exists(path) from None
                raise
    finally:
        partial.unlink(missing_ok=True)


def new_private_text(path: Path) -> TextIO:
    """A new text file (UTF-8), mode 0600, written in place; refused if the name exists."""
    try:
        fd = os.open(path, _FLAGS, 0o600)
    except FileExistsError:
        raise _exists(path, "choose another name") from None
    return os.fdopen(fd, "w", encoding="utf-8")
