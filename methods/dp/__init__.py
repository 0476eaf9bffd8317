"""``dp``: diffusion policy without foresight (the "Policy only" baseline of CLaD's ablation)."""

from .config import DiffusionPolicyConfig
from .model import DiffusionPolicy

__all__ = ["DiffusionPolicy", "DiffusionPolicyConfig"]
