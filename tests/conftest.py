"""Test-wide settings: no hub access, one torch thread, the random test order's seed in the summary.

One thread because CI machines have 2 cores and several tests run subprocesses or DataLoader workers beside the
main process: oversubscribed torch threads made a small overfit loop ~9x slower there.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Demo datasets, statistics and feature caches go to a fresh folder per test session, never the user's cache.
os.environ["FORESIGHT_CACHE"] = tempfile.mkdtemp(prefix="foresight-test-cache-")

torch.set_num_threads(1)


EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "foresight-bc"


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory) -> Path:
    """The example plugin ``pip install``-ed into a private target directory, as a user installs it (no dependencies:
    foresight is here already). Put it on ``sys.path`` (or ``PYTHONPATH``) to make ``method=bc`` resolve."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
         str(target), str(EXAMPLE_PLUGIN)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return target


def pytest_terminal_summary(terminalreporter, config) -> None:
    """Print pytest-randomly's seed at the end as well: ``-q`` (``make test``) hides the header that shows it."""
    seed = getattr(config.option, "randomly_seed", None)
    if config.pluginmanager.hasplugin("randomly") and isinstance(seed, int):
        terminalreporter.write_line(f"random test order: repeat it with -p randomly --randomly-seed={seed}")
