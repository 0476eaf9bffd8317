"""The past actions ``a_{t-τ:t}`` CLaD's planner reads at evaluation, recovered from its own earlier chunks.

The evaluation runner batches whichever episodes are waiting (rows change order and number between calls) and
passes observations only. A chunk predicted at frame ``t-τ`` is exactly ``a_{t-τ:t}`` when the runner executed
it whole (the default, ``replan_every=None``), and the query at ``t`` then carries that very frame at offset
``-τ``. So each chunk is stored under the exact bytes of the (normalised) proprio state and the instruction of
the frame it was predicted from, and looked up by the frame at offset ``-τ`` of a later query. A row with no
match (the episode's first τ steps, a runner that replans more often, another episode) gets padding, which the
dynamics model replaces by its learned mask token, as it does for padded actions in training.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from foresight.types import ACTION, ACTION_IS_PAD, INSTRUCTION, OBS_IS_PAD, STATE, Batch


class PastActionMemory:
    """Chunks keyed by the frame they were predicted from; bounded, oldest forgotten first."""

    def __init__(self, tau: int, action_dim: int, capacity: int = 4096) -> None:
        self.tau, self.action_dim, self.capacity = tau, action_dim, capacity
        self._chunks: OrderedDict[tuple[str, bytes], torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._chunks)

    def clear(self) -> None:
        self._chunks.clear()

    @staticmethod
    def _keys(batch: Batch, frame: int) -> list[tuple[str, bytes]]:
        states = batch[STATE][:, frame].detach().float().cpu().contiguous()
        texts = batch.get(INSTRUCTION) or [""] * len(states)
        return [(text, state.numpy().tobytes()) for text, state in zip(texts, states, strict=True)]

    def remember(self, batch: Batch, chunk: torch.Tensor) -> None:
        """Store each row's chunk under its current frame (the last observation offset)."""
        for key, row in zip(self._keys(batch, -1), chunk.detach(), strict=True):
            self._chunks[key] = row
            self._chunks.move_to_end(key)
        while len(self._chunks) > self.capacity:
            self._chunks.popitem(last=False)

    def fill(self, batch: Batch) -> Batch:
        """``batch`` with ``action`` / ``action_is_pad`` for ``a_{t-τ:t}``, unless it already has them."""
        if ACTION in batch or STATE not in batch or batch[STATE].shape[1] < 2:
            return batch
        state = batch[STATE]
        size = state.shape[0]
        found = [self._chunks.get(key) for key in self._keys(batch, 0)]
        actions = torch.zeros(size, self.tau, self.action_dim, device=state.device)
        is_pad = torch.ones(size, self.tau, dtype=torch.bool, device=state.device)
        first_padded = batch.get(OBS_IS_PAD)
        for row, chunk in enumerate(found):
            at_start = first_padded is not None and bool(first_padded[row, 0])
            if chunk is not None and not at_start:
                actions[row] = chunk[: self.tau].to(state.device)
                is_pad[row] = False
        out = dict(batch)
        out[ACTION], out[ACTION_IS_PAD] = actions, is_pad
        return out
