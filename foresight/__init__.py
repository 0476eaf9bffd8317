"""foresight: train, evaluate and compare foresight policies for robot manipulation."""

from foresight import llvm_guard
from foresight.registry import register_env, register_method

llvm_guard.install()  # rendering with Mesa, then importing triton, would segfault (see foresight/llvm_guard.py)

__version__ = "0.1.0"
__all__ = ["__version__", "register_env", "register_method"]
