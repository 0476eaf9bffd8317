"""Atomic file writes and the on-disk spelling of JSON: a reader, or a crash, never sees half a file.

Every file foresight writes for later (checkpoints, caches, evaluation results, leaderboard entries, generated
datasets, diagnostics) goes through here, so all of them have the same guarantees:

* content goes to a hidden temporary file with a unique name (``.tmp-<name>.<random>``) in the destination
  directory: the same filesystem, so the final rename is atomic, and two writers never share a temporary file;
* the temporary file is flushed and fsynced, ``os.replace``-d over the target, then the directory is fsynced, so
  after a power cut the target holds the old content or the new one, not an empty file;
* if anything fails before the rename, the temporary file is removed and the target is untouched. A process
  killed outright can leave a ``.tmp-*`` file behind, never a partial target; readers skip hidden files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TMP_PREFIX = ".tmp-"

PathLike = str | os.PathLike[str]


def pretty_json(obj: Any) -> str:
    """Key-sorted, indented JSON with a final newline: the on-disk form (diff-friendly). NaN is refused: not JSON."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return atomic_write(path, write)


def atomic_write_text(path: PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: PathLike, obj: Any) -> Path:
    """``obj`` as :func:`pretty_json`, written atomically."""
    return atomic_write_text(path, pretty_json(obj))


def atomic_write(path: PathLike, write: Callable[[Path], Any]) -> Path:
    """Let ``write(tmp)`` create the file at a temporary path, then publish it as ``path``.

    For writers that want a file name rather than bytes (``np.save``, safetensors, matplotlib, PyAV); the
    temporary name keeps the target's suffix so such writers pick the right format.
    """
    target = Path(path)
    tmp = temp_path(target)
    try:
        write(tmp)
        publish(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def temp_path(target: PathLike) -> Path:
    """A new, unique, hidden path beside ``target`` (the file exists, empty), for a writer that streams into it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    return Path(name)


def publish(tmp: PathLike, target: PathLike) -> Path:
    """fsync ``tmp``, rename it over ``target``, fsync the directory. ``tmp`` must be beside ``target``."""
    tmp, target = Path(tmp), Path(target)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; results and caches are meant to be shared
    os.replace(tmp, target)
    fsync_dir(target.parent)
    return target


@contextlib.contextmanager
def atomic_dir(target: PathLike) -> Iterator[Path]:
    """A directory filled inside the ``with`` block appears as ``target`` only when the block succeeds.

    Files are fsynced before the rename; an existing ``target`` is replaced. On an exception the temporary
    directory is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.name}.", dir=target.parent))
    try:
        yield tmp
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb+") as fh:
                    os.fsync(fh.fileno())
        os.chmod(tmp, 0o755)
        fsync_dir(tmp)
        if target.exists():  # os.replace cannot replace a non-empty directory: move the old one aside first
            old = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.name}.old.", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fsync_dir(directory: PathLike) -> None:
    """Make a rename in ``directory`` durable. A no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
