"""One spelling of JSON for hashing and for files, so equal content gives equal bytes and equal hashes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from foresight.fileio import pretty_json  # the on-disk spelling, shared with every other file foresight writes

__all__ = ["canonical_json", "config_hash", "pretty_json", "sha256_hex"]


def canonical_json(obj: Any) -> str:
    """Compact, key-sorted JSON; NaN/Infinity are refused because they are not JSON and do not round-trip."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_hex(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def config_hash(config: Any) -> str:
    """Stable hash of a resolved config: ``sha256:<hex>`` of its canonical JSON."""
    return "sha256:" + sha256_hex(config)
