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
from pathlib import Path

import pytest

from foresight import llvm_guard

SCRIPT = Path(__file__).with_name("render_then_triton.py")
RENDERERS = {"mujoco": "mujoco", "pybullet": "pybullet"}  # renderer -> the module it needs


def run(renderer: str, case: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), renderer, case], capture_output=True, text=True, timeout=300, check=False
    )


def lines(done: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module", params=sorted(RENDERERS))
def control(request) -> tuple[str, subprocess.CompletedProcess]:
    """(renderer, its unguarded run); skips where nothing renders through an LLVM-carrying GL driver."""
    renderer = request.param
    pytest.importorskip(RENDERERS[renderer], reason=f"needs {renderer} (the libero / calvin extra)")
    pytest.importorskip("triton", reason="needs triton (installed with torch on Linux)")
    done = run(renderer, "unguarded")
    first = lines(done)
    if not first:
        pytest.skip(f"{renderer} cannot render through EGL here: {done.stderr.strip().splitlines()[-1:]}")
    if not first[0]["foreign_llvm"]:
        pytest.skip("the GL driver here brings no LLVM (not Mesa llvmpipe): nothing to guard")
    return renderer, done


def test_without_the_guard_triton_segfaults_after_a_mesa_context(control) -> None:
    renderer, done = control
    assert done.returncode == -signal.SIGSEGV, (renderer, done.returncode, done.stderr[-500:])


def test_with_the_guard_triton_loads_compiles_and_rendering_is_unchanged(control) -> None:
    renderer, _ = control
    done = run(renderer, "guarded")
    assert done.returncode == 0, done.stderr[-1000:]
    assert lines(done) == [{"foreign_llvm": True}, {"ptx_has_mul": True, "same_frame": True}]


def test_nothing_is_opened_without_a_foreign_llvm(monkeypatch) -> None:
    monkeypatch.setattr(llvm_guard, "foreign_llvm_loaded", lambda: False)
    assert llvm_guard.open_libtriton("/no/such/libtriton.so") is False  # would raise if it tried to open it


def test_a_library_that_cannot_be_opened_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(llvm_guard, "foreign_llvm_loaded", lambda: True)
    message = r"(?s)Mesa llvmpipe.*before creating.*no/such/libtriton"
    with pytest.raises(llvm_guard.TritonLLVMClash, match=message), pytest.warns(RuntimeWarning, match=message):
        llvm_guard.open_libtriton("/no/such/libtriton.so")


def test_a_platform_without_deepbind_is_told_what_to_do(monkeypatch) -> None:
    monkeypatch.setattr(llvm_guard, "foreign_llvm_loaded", lambda: True)
    monkeypatch.delattr(llvm_guard.os, "RTLD_DEEPBIND", raising=False)
    message = r"import foresight.methods.*no RTLD_DEEPBIND"
    with pytest.raises(llvm_guard.TritonLLVMClash, match=message), pytest.warns(RuntimeWarning, match=message):
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
