"""Render through EGL, then load triton and compile with its LLVM (run as a script by test_llvm_guard.py).

``python render_then_triton.py {mujoco|pybullet} {guarded|unguarded}``: MuJoCo renders as LIBERO does; pybullet
loads its EGL plugin the way calvin_env does. ``guarded`` imports foresight first (which installs
:mod:`foresight.llvm_guard`); ``unguarded`` never imports it. Prints one JSON line after rendering (whether the
GL driver put an LLVM in the global scope) and one after triton: its LLVM compiled a function, and the scene
renders the same frame as before.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable

XML = """<mujoco><worldbody><light pos="0 0 3"/><geom type="plane" size="1 1 .1" rgba=".2 .6 .2 1"/>
  <geom type="sphere" size=".2" pos="0 0 .3" rgba=".8 .1 .1 1"/>
  <camera name="c" pos="0 -1.5 1" xyaxes="1 0 0 0 .6 .8"/></worldbody></mujoco>"""
IR = "define float @f(float %a, float %b) {\n  %c = fmul float %a, %b\n  ret float %c\n}"


def mujoco_frames() -> Callable[[], bytes]:
    os.environ["MUJOCO_GL"] = os.environ["PYOPENGL_PLATFORM"] = "egl"
    import mujoco

    model = mujoco.MjModel.from_xml_string(XML)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    context = mujoco.Renderer(model, 32, 32)

    def frame() -> bytes:
        context.update_scene(data, "c")
        return context.render().tobytes()

    return frame


def pybullet_frames() -> Callable[[], bytes]:
    import pybullet
    import pybullet_data

    pybullet.connect(pybullet.DIRECT)
    plugin = importlib.util.find_spec("eglRenderer").origin  # calvin_env: pkgutil.get_loader(...).get_filename()
    if pybullet.loadPlugin(plugin, "_eglRendererPlugin") < 0:  # else it would fall back to its CPU renderer
        raise SystemExit("pybullet's EGL plugin did not load")
    pybullet.setAdditionalSearchPath(pybullet_data.getDataPath())
    pybullet.loadURDF("plane.urdf")
    pybullet.loadURDF("r2d2.urdf", [0, 0, 0.5])
    view = pybullet.computeViewMatrix([1.5, 0, 1], [0, 0, 0.4], [0, 0, 1])
    projection = pybullet.computeProjectionMatrixFOV(60, 1, 0.1, 10)

    def frame() -> bytes:
        image = pybullet.getCameraImage(32, 32, view, projection, renderer=pybullet.ER_BULLET_HARDWARE_OPENGL)
        return bytes(bytearray(image[2]))

    return frame


def main(renderer: str, case: str) -> None:
    if case == "guarded":
        import foresight  # noqa: F401
    frame = {"mujoco": mujoco_frames, "pybullet": pybullet_frames}[renderer]()
    before = hashlib.sha256(frame()).hexdigest()
    foreign = hasattr(ctypes.CDLL(None), "LLVMContextCreate")  # inline: the control must not import foresight
    if case == "guarded":
        from foresight.llvm_guard import foreign_llvm_loaded

        assert foreign_llvm_loaded() == foreign
    print(json.dumps({"foreign_llvm": foreign}), flush=True)

    from triton._C.libtriton import llvm

    llvm.init_targets()
    ptx = llvm.translate_to_asm(IR, "nvptx64-nvidia-cuda", "sm_80", "+ptx80", [], False, False, False)
    after = hashlib.sha256(frame()).hexdigest()
    print(json.dumps({"ptx_has_mul": "mul.rn.f32" in ptx, "same_frame": after == before}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
