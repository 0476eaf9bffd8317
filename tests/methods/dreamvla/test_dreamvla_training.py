"""The tiny model learns a fixed small dataset: its training loss falls by at least 2x in 80 steps (measured 3.0x
when written: action 3.7x, SAM cosine 2.9x, dynamic region 1.2x on random frames), about 20 s on one CPU thread."""

from __future__ import annotations

import torch
from dreamvla_fixtures import batch, build, node


def test_the_tiny_models_loss_falls_at_least_twofold_on_a_fixed_dataset():
    method = build({**node(), "pretrain": False}).train()
    data = batch(method, size=4)
    optimizer = torch.optim.AdamW(method.parameters(), lr=3e-3)
    torch.manual_seed(0)
    history = []
    for _ in range(80):
        loss, logs = method.compute_loss(data, "finetune")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(logs["loss"])
    first, last = sum(history[:5]) / 5, sum(history[-5:]) / 5
    assert last < first / 2, (first, last)
