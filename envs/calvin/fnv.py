"""32-bit FNV-1 exactly as ``pyhash.fnv1_32()`` computes it, which CALVIN uses to seed its initial states.

The official ``get_env_state_for_initial_condition`` seeds NumPy with ``pyhash.fnv1_32()(str(cond.values()))``.
``pyhash`` no longer installs (its setup.py uses ``use_2to3``), so we compute the same number here. Two details
of pyfasthash (``src/Hash.h``, ``src/FNV1.h``) differ from textbook FNV-1 and both matter:

* the hash starts from the hasher's seed, 0 by default, not from the FNV offset basis 0x811C9DC5;
* a ``str`` is hashed as its UTF-16 code units in the machine's byte order without the BOM (little-endian on
  every platform CALVIN runs on), so ``"ab"`` hashes the bytes ``61 00 62 00``.

Each byte: ``h = (h * 16777619) mod 2**32`` then ``h ^= byte`` (Fowler, Noll, Vo; multiply before xor is FNV-1).
"""

from __future__ import annotations

FNV_32_PRIME = 0x01000193
_MASK_32 = 0xFFFFFFFF


def fnv1_32(data: str | bytes, seed: int = 0) -> int:
    """``pyhash.fnv1_32()(data, seed=seed)``: bytes as given, text as UTF-16-LE code units."""
    if isinstance(data, str):
        data = data.encode("utf-16-le")
    elif not isinstance(data, bytes | bytearray):
        raise TypeError(f"fnv1_32 hashes str or bytes, got {type(data).__name__}")
    if not 0 <= seed <= _MASK_32:
        raise ValueError(f"fnv1_32 seed must be a 32-bit unsigned integer, got {seed}")
    h = seed
    for byte in data:
        h = (h * FNV_32_PRIME) & _MASK_32
        h ^= byte
    return h
