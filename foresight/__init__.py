"""foresight: train, evaluate and compare foresight policies for robot manipulation."""

from foresight.registry import register_env, register_method

__version__ = "0.1.0"
__all__ = ["__version__", "register_env", "register_method"]
