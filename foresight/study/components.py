"""What an evaluated policy is made of, so a study can prove that only the foresight differs between its arms.

Five components identify an arm's measurement: the frozen encoder's feature id, a digest of the action head's
configuration, the training data's fingerprint, the evaluation protocol's id and the foresight module. Two
results of one study whose components differ in anything but ``foresight`` are flagged in the report and on the
leaderboard: they compare more than the foresight.

The head digest covers the head's modules (classes and hyperparameters: action dimension, chunk length, widths,
depth), its parameter shapes and its noise schedule, but not the width of the condition it reads: the condition
is what the foresight supplies (CLaD's FiLM-modulated plan is wider with ``both`` than with ``semantic``), so its
width belongs to the foresight, not to the head. Linear layers are described by their output width alone, since
their input width is set by what feeds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

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


def _scalars(module: nn.Module) -> dict[str, Any]:
    """A module's own hyperparameters: its plain attributes, those about the condition left out."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in sorted(vars(module).items())
        if not k.startswith("_")
        and k not in ("training", "in_features")  # a layer's input width is set by what feeds it
        and "cond" not in k
        and isinstance(v, int | float | str | bool | tuple)
    }


def _structure(head: nn.Module) -> list[Any]:
    """Every submodule's name, class and hyperparameters, and every parameter's shape, except where the condition
    enters: a linear layer is described by its output width only (its input width is whatever feeds it)."""
    out: list[Any] = []
    for name, module in head.named_modules():
        entry: dict[str, Any] = {"module": name, "class": type(module).__name__, "hparams": _scalars(module)}
        if isinstance(module, nn.Linear):
            entry["out_features"] = module.out_features
        else:
            entry["parameters"] = {k: list(p.shape) for k, p in module.named_parameters(recurse=False)}
        out.append(entry)
    return out


def head_digest(method: Method) -> str:
    """``h-`` + 12 hex digits over the configuration of every :class:`ActionHead` in the method (see module doc)."""
    heads = [m for m in method.modules() if isinstance(m, ActionHead)]
    if not heads:
        return "none"
    described = []
    for head in heads:
        scheduler = getattr(head, "scheduler", None)
        described.append(
            {
                "structure": _structure(head),
                "scheduler": dict(getattr(scheduler, "config", {}) or {}) if scheduler is not None else None,
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
