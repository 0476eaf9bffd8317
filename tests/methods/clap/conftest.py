"""CLAP tests run torch on one thread, as CLaD's do: the machines running them are small and shared, and two
threads fighting another process for two cores made a 60-step training test 15x slower (0.31 s vs 0.02 s per step)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
