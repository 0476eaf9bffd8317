"""The one place that turns recorded camera frames upright, for stored datasets and live simulators alike.

Flipped images are the most common cause of "0 % success" reports on LIBERO: a policy trained on frames in one
orientation and evaluated on the other. Both the dataset readers and the environment adapters call
:func:`to_upright`, so training and evaluation cannot disagree.

Conventions (the values of robosuite's ``macros.IMAGE_CONVENTION``, which LIBERO records in each dataset file as
``data.attrs["macros_image_convention"]``):

``"opengl"``
    MuJoCo renders into an OpenGL frame buffer whose first row is the *bottom* of the picture, so the array is
    upside down. robosuite's own conversion to ``"opencv"`` reverses the rows only
    (``robosuite/environments/robot_env.py``: ``img[::convention]`` with ``{"opengl": 1, "opencv": -1}``), and
    LIBERO's video writer does the same (``libero/libero/utils/video_utils.py``: ``obs[camera][::-1]``). We do
    exactly that: reverse the rows, keep the columns. OpenVLA and openpi rotate by 180 degrees (``[::-1, ::-1]``)
    instead, which also mirrors left and right; that is their own training convention, not the camera's view.
``"opencv"``
    Already upright (first row is the top of the picture): returned unchanged.
"""

from __future__ import annotations

import numpy as np

IMAGE_CONVENTIONS = ("opengl", "opencv")


def check_convention(convention: str) -> str:
    """Return ``convention`` if known, else raise a ValueError naming the valid options."""
    if convention not in IMAGE_CONVENTIONS:
        raise ValueError(f"unknown image convention {convention!r}: expected one of {IMAGE_CONVENTIONS}")
    return convention


def to_upright(images: np.ndarray, convention: str) -> np.ndarray:
    """Frames recorded under ``convention`` -> upright frames (first row = top of the picture).

    Works on one frame ``(H, W, C)`` or a stack ``(..., H, W, C)``; returns a view when no copy is needed.
    """
    check_convention(convention)
    if images.ndim < 3:
        raise ValueError(f"expected images shaped (..., H, W, C), got shape {images.shape}")
    if convention == "opengl":
        return images[..., ::-1, :, :]
    return images
