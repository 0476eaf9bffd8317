"""Content hashes of weight files, for :attr:`Encoder.feature_id`.

A feature id must change whenever the weights do, even if the path and model name stay the same (a re-trained
checkpoint saved over the old one), so it carries a hash of the bytes, not of the path. Hashing a few hundred MB
takes a second; results are memoised per (path, size, mtime) for the life of the process.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 20
_memo: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of one file's bytes."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"weights file {path} does not exist; cannot compute its digest") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _memo:
        sha = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                sha.update(chunk)
        _memo[key] = sha.hexdigest()
    return _memo[key]


def files_digest(paths: list[str | os.PathLike[str]], length: int = 16) -> str:
    """Short combined digest of several files (weights + tokenizer), order-independent by file name."""
    sha = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        sha.update(path.name.encode())
        sha.update(file_digest(path).encode())
    return sha.hexdigest()[:length]
