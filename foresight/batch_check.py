"""The batch keys a :class:`~foresight.types.DataSpec` promises, checked before a method reads any of them.

A method that indexes a key the batch lacks fails deep inside its encoders with a bare ``KeyError`` (or worse, a
``None`` that breaks a matmul). Checking the spec's promise at the entry point gives one error that names every
missing key, the spec entry that asks for it, and what the batch holds instead: the mismatch is then visibly
between the method's spec and the data (a reader, the feature cache, a hand-made test batch), not in the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from foresight.types import ACTION, ACTION_IS_PAD, INSTRUCTION, STATE, DataSpec, feature_key, image_key, target_key


class BatchKeyError(KeyError):
    """A batch lacks keys its method's data spec asks for; the message names them and the batch's keys."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def required_keys(spec: DataSpec, *, training: bool) -> list[tuple[tuple[str, ...], str]]:
    """``(alternatives, reason)`` for every input ``spec`` promises; a batch must hold one of the alternatives.

    A view may arrive as pixels or as a frozen encoder's cached features of it (the trainer skips decoding pixels
    the cache covers); an instruction embedding may be computed from the instruction text. Actions and teacher
    targets are promised in training; at inference only the executed past actions of negative offsets.
    """
    needs: list[tuple[tuple[str, ...], str]] = []
    if spec.proprio_keys:
        needs.append(((STATE,), f"proprio_keys {list(spec.proprio_keys)}"))
    for view in spec.views:
        cached = tuple(feature_key(f.name, view) for f in spec.features if view in f.sources)
        needs.append(((image_key(view), *cached), f"view {view!r}"))
    for feature in spec.features:
        for source in feature.sources:
            if source in spec.views:
                continue
            alternatives = (feature_key(feature.name, source),) + ((INSTRUCTION,) if source == "instruction" else ())
            needs.append((alternatives, f"feature {feature.name!r} of {source!r}"))
    if training or any(offset < 0 for offset in spec.action_offsets):
        reason = "action_offsets" if training else "negative action_offsets (the executed past actions)"
        needs.append(((ACTION,), reason))
        needs.append(((ACTION_IS_PAD,), reason))
    if training:
        for target in spec.targets:
            needs.extend(((target_key(target.name, s),), f"teacher target {target.name!r}") for s in target.sources)
    return needs


def check_batch(batch: Mapping[str, Any], spec: DataSpec, *, training: bool, where: str) -> None:
    """Raise one :class:`BatchKeyError` naming every key ``spec`` asks for that ``batch`` lacks.

    ``where`` says whose spec it is (``"method 'dp', stage 'policy'"``).
    """
    missing = [
        (alts, reason) for alts, reason in required_keys(spec, training=training) if not any(a in batch for a in alts)
    ]
    if not missing:
        return
    lines = "; ".join(f"{' or '.join(repr(a) for a in alts)} (for {reason})" for alts, reason in missing)
    raise BatchKeyError(
        f"the batch for {where} lacks {lines}. The batch has {sorted(batch)}: build batches from the data spec "
        "(foresight.data.WindowDataset does), or change the spec"
    )
