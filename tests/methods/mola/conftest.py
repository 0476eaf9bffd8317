"""MoLA tests run torch on one thread (small shared machines), as CLaD's do, and build their synthetic batches with
the method contract's helpers (tests/methods/contract.py)."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/methods: contract.py


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
