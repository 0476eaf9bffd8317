"""MoLA tests run torch on one thread (small shared machines), as CLaD's do, and build their synthetic batches with
the method contract's helpers (tests/methods/contract.py) and the leaderboard's fake results."""

import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(TESTS / "methods"), str(TESTS / "leaderboard")]  # contract.py, lb_factories.py


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
