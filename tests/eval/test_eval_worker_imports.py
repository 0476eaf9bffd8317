"""A simulator worker imports the env adapters and the worker loop, and not torch (seconds and ~300 MB each)."""

from __future__ import annotations

import subprocess
import sys

import pytest

WORKER_SIDE = (
    "foresight.eval.worker",
    "foresight.envs.libero.rollout",
    "foresight.envs.libero.suite",
    "foresight.envs.calvin.rollout",
    "foresight.envs.calvin.suite",
)


def test_simulator_workers_do_not_import_torch() -> None:
    code = (
        f"import sys; import {', '.join(WORKER_SIDE)}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'accelerate', 'transformers')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"a worker-side module pulls in: {out.stdout.strip()[:300]}"


def test_the_lazy_data_package_still_exports_its_names() -> None:
    import foresight.data as data
    from foresight.data.windows import WindowDataset

    assert data.WindowDataset is WindowDataset and "open_dataset" in data.__all__
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        data.no_such_name  # noqa: B018
