"""What an evaluated policy is made of, so a study can prove that only the foresight differs between its arms.

Five components identify an arm's measurement: the frozen encoder's feature id, a digest of the action head's
configuration, the training data's fingerprint, the evaluation protocol's id and the foresight module. Two
results of one study whose components differ in anything but ``foresight`` are flagged in the report and on the
leaderboard: they compare more than the foresight.

The head digest covers the head's class, action dimension, chunk length, noise schedule and the shapes of its
parameters, with the condition width replaced by ``C``: the condition is what the foresight supplies (CLaD's
FiLM-modulated plan is wider with ``both`` than with ``proprio``), so its width belongs to the foresight, not to
the head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from foresight.interfaces import ActionHead, Method
from foresight.leaderboard.canonical import sha256_hex

COMPONENTS = ("encoder", "head", "data", "protocol", "foresight")
"""The fields of a result's ``components``, in the order the report shows them."""

SWAPPED = "foresight"
"""The one component a study's arms are meant to differ in."""


def encoder_id(method: Method) -> str:
    """The frozen encoders the method reads features of (name and a digest of their arguments), or where its
    image features come from when it has none."""
    spec = method.data_spec(None)
    if spec.features:
        parts = sorted(
            f"{f.encoder}:{sha256_hex({'kwargs': [list(kv) for kv in f.kwargs], 'sources': list(f.sources)})[:10]}"
            for f in spec.features
        )
        return "+".join(parts)
    if spec.views and spec.load_pixels:
        return f"none (pixels of {','.join(spec.views)} through the method's own trained network)"
    return "none"


def head_digest(method: Method) -> str:
    """``h-`` + 12 hex digits over the configuration of every :class:`ActionHead` in the method (see module doc)."""
    heads = [(name, m) for name, m in method.named_modules() if isinstance(m, ActionHead)]
    if not heads:
        return "none"
    described = []
    for name, head in heads:
        cond = getattr(head, "cond_dim", None)
        shapes = {
            pname: ["C" if cond is not None and d == cond else d for d in p.shape]
            for pname, p in head.named_parameters()
        }
        scheduler = getattr(head, "scheduler", None)
        described.append(
            {
                "module": name.rsplit(".", 1)[-1],
                "class": type(head).__name__,
                "action_dim": getattr(head, "action_dim", None),
                "horizon": getattr(head, "horizon", None),
                "scheduler": dict(getattr(scheduler, "config", {}) or {}) if scheduler is not None else None,
                "parameters": shapes,
            }
        )
    return "h-" + sha256_hex(described)[:12]


def foresight_id(method: Method) -> str:
    """The method's own description of its foresight (``Method.describe_foresight``)."""
    return method.describe_foresight()


def components(method: Method, data_fingerprint: str, protocol_id: str) -> dict[str, str]:
    return {
        "encoder": encoder_id(method),
        "head": head_digest(method),
        "data": data_fingerprint,
        "protocol": protocol_id,
        "foresight": foresight_id(method),
    }


def differences(reference: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    """Components other than the foresight in which ``other`` differs from ``reference``."""
    return [k for k in COMPONENTS if k != SWAPPED and reference.get(k) != other.get(k)]


def flags(arms: Mapping[str, Sequence[Mapping[str, Any]]], baseline: str) -> dict[str, list[str]]:
    """Per arm, what besides the foresight differs from the baseline arm (or between the arm's own seeds).

    ``arms`` maps an arm to the components of each of its results. An empty list means a clean comparison.
    """
    if baseline not in arms or not arms[baseline]:
        return {arm: [] for arm in arms}
    reference = arms[baseline][0]
    out: dict[str, list[str]] = {}
    for arm, results in arms.items():
        found: list[str] = []
        for comp in results:
            for key in differences(reference, comp):
                if key not in found:
                    found.append(key)
        out[arm] = [k for k in COMPONENTS if k in found]
    return out
