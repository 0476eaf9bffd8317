"""Protocols in words: a table's protocol summary, and what separates two tables that may not be ranked together.

Reproduced results state every protocol field; papers state a few (``None`` = unstated). Both are handled as a
mapping of the same field names, so the difference between a reproduced table and a reported one is named the
same way as between two reported ones ("50 trials/task × 1 checkpoint vs 20 trials/task × top-3 checkpoints").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from foresight.leaderboard.canonical import sha256_hex

# Display order; checkpoints_averaged and checkpoint_selection are one "checkpoints" item.
_ITEMS = (
    "trials",
    "checkpoints",
    "num_chains",
    "seeds",
    "max_steps",
    "warmup_steps",
    "image_convention",
    "execution",
    "init_states",
)
_ITEM_FIELDS = {
    "trials": ("trials_per_task",),
    "checkpoints": ("checkpoints_averaged", "checkpoint_selection"),
    "num_chains": ("num_chains",),
    "seeds": ("seeds",),
    "max_steps": ("max_steps",),
    "warmup_steps": ("warmup_steps",),
    "image_convention": ("image_convention",),
    "execution": ("action_execution", "replan_every", "ensemble_decay"),
    "init_states": ("init_states",),
}
_ITEM_NAMES = {
    "trials": "trials/task",
    "checkpoints": "checkpoints",
    "num_chains": "chains",
    "seeds": "seeds",
    "max_steps": "step limit",
    "warmup_steps": "warm-up steps",
    "image_convention": "image convention",
    "execution": "action execution",
    "init_states": "initial states",
}
_INIT_WORDS = {
    "libero_official": "official init states",
    "calvin_official": "official eval sequences",
    "random": "random init",
}


def _stated(p: Mapping[str, Any], item: str) -> bool:
    return any(p.get(f) is not None for f in _ITEM_FIELDS[item])


def _phrase(p: Mapping[str, Any], item: str, benchmark: str) -> str:
    if not _stated(p, item):
        return f"{_ITEM_NAMES[item]} unstated"
    if item == "trials":
        n = p["trials_per_task"]
        unit = "run" if benchmark == "calvin" else "trial"
        return f"{n} {unit}{'s' if n != 1 else ''}/{'chain' if benchmark == 'calvin' else 'task'}"
    if item == "checkpoints":
        k, sel = p.get("checkpoints_averaged"), p.get("checkpoint_selection")
        if sel and sel.startswith("top-"):
            return f"{sel} checkpoints"
        if k is None:
            return f"checkpoint: {sel}"
        base = "1 checkpoint" if k == 1 else f"{k} checkpoints averaged"
        return f"{base} ({sel})" if sel else base
    if item == "num_chains":
        return f"{p['num_chains']} chains"
    if item == "seeds":
        seeds = p["seeds"]
        return f"seed{'s' if len(seeds) != 1 else ''} {', '.join(str(s) for s in seeds)}"
    if item == "max_steps":
        return f"≤{p['max_steps']} steps" + ("/subtask" if benchmark == "calvin" else "")
    if item == "warmup_steps":
        return f"{p['warmup_steps']} warm-up steps"
    if item == "image_convention":
        return f"images {p['image_convention']}"
    if item == "execution":
        if p.get("action_execution") == "temporal_ensemble":
            return f"temporal ensemble k={p['ensemble_decay']}, replan every {p['replan_every']}"
        if p.get("action_execution") == "adaptive_ensemble":
            return f"adaptive ensemble alpha={p['ensemble_decay']}, replan every {p['replan_every']}"
        return f"replan every {p['replan_every']}"
    return _INIT_WORDS.get(p["init_states"], str(p["init_states"]))


def _items(p: Mapping[str, Any], benchmark: str) -> list[str]:
    items = [i for i in _ITEMS if _stated(p, i)]
    if benchmark != "calvin":
        items = [i for i in items if i != "num_chains"]
    return items


def _join(phrases: list[str]) -> str:
    """``trials × checkpoints`` read as one quantity; the rest comma-separated."""
    if len(phrases) >= 2 and "/task" in phrases[0] and "checkpoint" in phrases[1]:
        phrases = [f"{phrases[0]} × {phrases[1]}", *phrases[2:]]
    return ", ".join(phrases)


def describe(p: Mapping[str, Any], benchmark: str) -> str:
    """One-line protocol summary; only the stated fields, or ``unstated``."""
    items = _items(p, benchmark)
    if not items:
        return "unstated"
    return _join([_phrase(p, i, benchmark) for i in items])


def difference(a: Mapping[str, Any], b: Mapping[str, Any], benchmark: str) -> str:
    """What separates protocol ``a`` from ``b``, e.g. ``50 trials/task × 1 checkpoint vs 20 trials/task × top-3
    checkpoints``; empty if they agree on every field either states."""
    differing = [
        i
        for i in _ITEMS
        if (_stated(a, i) or _stated(b, i))
        and (i != "num_chains" or benchmark == "calvin")
        and any(a.get(f) != b.get(f) for f in _ITEM_FIELDS[i])
    ]
    if not differing:
        return ""
    left = _join([_phrase(a, i, benchmark) for i in differing])
    right = _join([_phrase(b, i, benchmark) for i in differing])
    return f"{left} vs {right}"


def stated_group_id(p: Mapping[str, Any]) -> str:
    """Grouping key of a paper's partially stated protocol: rows stating the same fields alike share a table."""
    fields = {k: v for k, v in sorted(p.items()) if k != "quote" and v is not None}
    return "r-" + sha256_hex(fields)[:12]


def family_id(p: Mapping[str, Any]) -> str:
    """A reproduced protocol without its step limit, which differs per LIBERO suite by design (220/280/300/520
    in openpi): results sharing a family form one row of the four-suite overview."""
    fields = {k: v for k, v in sorted(p.items()) if k not in ("protocol_id", "max_steps")}
    return "f-" + sha256_hex(fields)[:12]
