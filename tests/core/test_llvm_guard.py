"""triton loads after a software OpenGL context (Mesa llvmpipe) once foresight is imported.

The crash is a segmentation fault at load time, so each case runs in a fresh subprocess. The control case
(no guard) shows that this machine reproduces the crash; on a machine whose GL driver brings no LLVM (an
NVIDIA driver) there is nothing to guard and the subprocess cases skip.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from foresight import llvm_guard

# A MuJoCo scene rendered through EGL, then triton imported and its own LLVM asked to compile a function (the
# crash happens in libtriton's static constructors; codegen checks its LLVM calls bind to its own copy).
SCRIPT = textwrap.dedent(
    """
    import ctypes, hashlib, json, os, sys
    os.environ["MUJOCO_GL"] = os.environ["PYOPENGL_PLATFORM"] = "egl"
    guarded = sys.argv[1] == "guarded"
    if guarded:
        import foresight
    import mujoco
    XML = '''<mujoco><worldbody><light pos="0 0 3"/><geom type="plane" size="1 1 .1" rgba=".2 .6 .2 1"/>
      <geom type="sphere" size=".2" pos="0 0 .3" rgba=".8 .1 .1 1"/>
      <camera name="c" pos="0 -1.5 1" xyaxes="1 0 0 0 .6 .8"/></worldbody></mujoco>'''
    model = mujoco.MjModel.from_xml_string(XML)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    renderer = mujoco.Renderer(model, 32, 32)
    def frame():
        renderer.update_scene(data, "c")
        return hashlib.sha256(renderer.render().tobytes()).hexdigest()
    before = frame()
    foreign = hasattr(ctypes.CDLL(None), "LLVMContextCreate")  # the control must not import foresight
    if guarded:
        assert foresight.llvm_guard.foreign_llvm_loaded() == foreign
    print(json.dumps({"foreign_llvm": foreign}), flush=True)
    from triton._C.libtriton import llvm
    llvm.init_targets()
    ir = 'define float @f(float %a, float %b) {\\n  %c = fmul float %a, %b\\n  ret float %c\\n}'
    ptx = llvm.translate_to_asm(ir, "nvptx64-nvidia-cuda", "sm_80", "+ptx80", [], False, False, False)
    print(json.dumps({"ptx_has_mul": "mul.rn.f32" in ptx, "same_frame": frame() == before}), flush=True)
    """
)


def run(case: str, tmp_path: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "render_then_triton.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), case], capture_output=True, text=True, timeout=300, check=False
    )


def lines(done: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def control(tmp_path_factory) -> subprocess.CompletedProcess:
    """The unguarded run; skips the module where nothing here renders through an LLVM-carrying GL driver."""
    pytest.importorskip("mujoco", reason="needs MuJoCo (the libero extra)")
    pytest.importorskip("triton", reason="needs triton (installed with torch on Linux)")
    done = run("unguarded", tmp_path_factory.mktemp("control"))
    first = lines(done)
    if not first:
        pytest.skip(f"no EGL context here: {done.stderr.strip().splitlines()[-1:]}")
    if not first[0]["foreign_llvm"]:
        pytest.skip("the GL driver here brings no LLVM (not Mesa llvmpipe): nothing to guard")
    return done


def test_without_the_guard_triton_segfaults_after_a_mesa_context(control) -> None:
    assert control.returncode == -signal.SIGSEGV, (control.returncode, control.stderr[-500:])


def test_with_the_guard_triton_loads_compiles_and_rendering_is_unchanged(control, tmp_path) -> None:
    done = run("guarded", tmp_path)
    assert done.returncode == 0, done.stderr[-1000:]
    assert lines(done) == [{"foreign_llvm": True}, {"ptx_has_mul": True, "same_frame": True}]


def test_nothing_is_opened_without_a_foreign_llvm(monkeypatch) -> None:
    monkeypatch.setattr(llvm_guard, "foreign_llvm_loaded", lambda: False)
    assert llvm_guard.open_libtriton("/no/such/libtriton.so") is False  # would raise if it tried to open it


def test_a_library_that_cannot_be_opened_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(llvm_guard, "foreign_llvm_loaded", lambda: True)
    with pytest.raises(llvm_guard.TritonLLVMClash, match=r"(?s)Mesa llvmpipe.*before creating.*no/such/libtriton"):
        llvm_guard.open_libtriton("/no/such/libtriton.so")


def test_a_platform_without_deepbind_is_told_what_to_do(monkeypatch) -> None:
    monkeypatch.setattr(llvm_guard, "foreign_llvm_loaded", lambda: True)
    monkeypatch.delattr(llvm_guard.os, "RTLD_DEEPBIND", raising=False)
    with pytest.raises(llvm_guard.TritonLLVMClash, match=r"import foresight.methods.*no RTLD_DEEPBIND"):
        llvm_guard.open_libtriton("/no/such/libtriton.so")


def test_the_finder_only_answers_for_libtriton_and_is_installed_once(monkeypatch, tmp_path) -> None:
    opened = []
    monkeypatch.setattr(llvm_guard, "open_libtriton", opened.append)
    finder = llvm_guard.LibtritonFinder()
    assert finder.find_spec("triton", None) is None and finder.find_spec("numpy", None) is None
    package = tmp_path / "_C"
    package.mkdir()
    library = package / "libtriton.so"
    library.write_bytes(b"")
    spec = finder.find_spec(llvm_guard.LIBTRITON, [str(package)])
    assert spec is not None and spec.origin == str(library) and opened == [str(library)]

    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path if not isinstance(f, llvm_guard.LibtritonFinder)])
    monkeypatch.delitem(sys.modules, llvm_guard.LIBTRITON, raising=False)
    llvm_guard.install()
    llvm_guard.install()
    assert sum(isinstance(f, llvm_guard.LibtritonFinder) for f in sys.meta_path) == 1
    assert isinstance(sys.meta_path[0], llvm_guard.LibtritonFinder)
