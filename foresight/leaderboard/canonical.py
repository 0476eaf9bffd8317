"""One spelling of JSON for hashing and for files, so equal content gives equal bytes and equal hashes."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    """Compact, key-sorted JSON; NaN/Infinity are refused because they are not JSON and do not round-trip."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def pretty_json(obj: Any) -> str:
    """Key-sorted, indented JSON with a final newline: the on-disk form of results (diff-friendly)."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def sha256_hex(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def config_hash(config: Any) -> str:
    """Stable hash of a resolved config: ``sha256:<hex>`` of its canonical JSON."""
    return "sha256:" + sha256_hex(config)
