"""Exponential moving averages of weights: in-place target updates (SSL target encoders) and a shadow copy
(policy weights for evaluation, Diffusion Policy style)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def _averaged_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and floating-point buffers: what an average of weights means (LayerNorm/BN statistics too)."""
    tensors = dict(module.named_parameters())
    tensors.update((name, buf) for name, buf in module.named_buffers() if buf.is_floating_point())
    return tensors


@torch.no_grad()
def ema_update_(target: nn.Module, source: nn.Module, momentum: float) -> None:
    """``target = momentum * target + (1 - momentum) * source`` in place, for parameters and floating buffers.

    Integer buffers (step counters) are copied from ``source``. Used for EMA target encoders (CLaD §4.2,
    ``m = 0.995``; BYOL, Grill et al. 2020). Both modules must have the same structure.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"EMA momentum must be in [0, 1], got {momentum}")
    targets, sources = _averaged_tensors(target), _averaged_tensors(source)
    if targets.keys() != sources.keys():
        raise ValueError(f"ema_update_: modules differ: {sorted(targets.keys() ^ sources.keys())[:5]}")
    names = list(targets)
    torch._foreach_lerp_([targets[n] for n in names], [sources[n] for n in names], 1.0 - momentum)
    source_buffers = dict(source.named_buffers())
    for name, buf in target.named_buffers():
        if not buf.is_floating_point():
            buf.copy_(source_buffers[name])


class EMA:
    """A shadow copy of a module's weights, averaged after each optimiser step.

    The effective decay warms up as ``min(decay, 1 - (1 + n) ** -warmup)`` after ``n`` earlier updates (the
    schedule of Chi et al. 2023's ``EMAModel``, power 0.75), so the first update copies the weights and early
    averages are not dominated by the random initialisation. ``warmup=None`` uses ``decay`` from the start.

    Pass the submodule(s) that train; frozen weights would only be copied around.
    """

    def __init__(self, module: nn.Module, decay: float, warmup: float | None = 0.75) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay, self.warmup = decay, warmup
        self.num_updates = 0
        self.shadow = {name: t.detach().clone() for name, t in _averaged_tensors(module).items()}

    def current_decay(self) -> float:
        """The decay the next :meth:`update` will use."""
        if self.warmup is None:
            return self.decay
        return min(self.decay, 1.0 - (1.0 + self.num_updates) ** -self.warmup)

    def _pairs(self, module: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        tensors = _averaged_tensors(module)
        if tensors.keys() != self.shadow.keys():
            diff = sorted(tensors.keys() ^ self.shadow.keys())
            raise ValueError(f"EMA: module does not match the averaged one; differing tensors: {diff[:5]}")
        names = list(self.shadow)
        return [self.shadow[n] for n in names], [tensors[n] for n in names]

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        shadow, current = self._pairs(module)
        torch._foreach_lerp_(shadow, current, 1.0 - self.current_decay())
        self.num_updates += 1

    @torch.no_grad()
    def copy_to(self, module: nn.Module) -> None:
        """Overwrite ``module``'s weights with the averages."""
        shadow, current = self._pairs(module)
        torch._foreach_copy_(current, shadow)

    @contextmanager
    def swap(self, module: nn.Module) -> Iterator[nn.Module]:
        """Evaluate with the averaged weights; the trained weights come back on exit, even after an error."""
        _, current = self._pairs(module)
        backup = [t.detach().clone() for t in current]
        self.copy_to(module)
        try:
            yield module
        finally:
            with torch.no_grad():
                torch._foreach_copy_(current, backup)

    def to(self, device: torch.device | str) -> EMA:
        self.shadow = {name: t.to(device) for name, t in self.shadow.items()}
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Flat ``name -> tensor`` (safetensors-ready); the update count is stored as ``__num_updates__``."""
        state = dict(self.shadow)
        state["__num_updates__"] = torch.tensor(self.num_updates, dtype=torch.int64)
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        if "__num_updates__" not in state:
            raise KeyError("EMA state has no '__num_updates__' entry; was it written by EMA.state_dict()?")
        num_updates = int(state.pop("__num_updates__"))
        if state.keys() != self.shadow.keys():
            missing, unexpected = sorted(self.shadow.keys() - state.keys()), sorted(state.keys() - self.shadow.keys())
            raise KeyError(f"EMA state does not match the module: missing {missing[:5]}, unexpected {unexpected[:5]}")
        with torch.no_grad():
            for name, tensor in state.items():
                if tensor.shape != self.shadow[name].shape:
                    raise ValueError(
                        f"EMA state {name!r} has shape {tuple(tensor.shape)}, expected {tuple(self.shadow[name].shape)}"
                    )
                self.shadow[name].copy_(tensor)
        self.num_updates = num_updates
