"""A toy transition dataset with known causes: a coloured square moves one of four ways between ``o_t`` and
``o_{t+k}``. Each modality's target is a function of the transition, so an expert that encodes the transition in
its latent actions can reconstruct it, and one that does not cannot beat the mean."""

from __future__ import annotations

import torch

SIZE, SQUARE, STEP = 32, 8, 6
MOVES = torch.tensor([[STEP, 0], [-STEP, 0], [0, STEP], [0, -STEP]])
COLOURS = torch.tensor([[255, 40, 40], [40, 255, 40], [40, 40, 255], [255, 255, 40]], dtype=torch.uint8)


def _draw(x: torch.Tensor, y: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    frames = torch.full((len(x), 3, SIZE, SIZE), 30, dtype=torch.uint8)
    for i in range(len(x)):
        frames[i, :, y[i] : y[i] + SQUARE, x[i] : x[i] + SQUARE] = colour[i].view(3, 1, 1)
    return frames


def pairs(n: int, seed: int) -> dict[str, torch.Tensor]:
    """``current``, ``future`` uint8 frames and the three targets: ``flow`` (2, 4, 4) the move in pixels,
    ``depth`` (1, 8, 8) where the square ends up, ``semantic`` (4, 4, 4) its colour class where it ends up."""
    g = torch.Generator().manual_seed(seed)
    move = torch.randint(0, 4, (n,), generator=g)
    colour = torch.randint(0, 4, (n,), generator=g)
    x = torch.randint(STEP, SIZE - SQUARE - STEP + 1, (n,), generator=g)
    y = torch.randint(STEP, SIZE - SQUARE - STEP + 1, (n,), generator=g)
    dx, dy = MOVES[move, 0], MOVES[move, 1]
    current, future = _draw(x, y, COLOURS[colour]), _draw(x + dx, y + dy, COLOURS[colour])
    mask = (future.float().std(dim=1, keepdim=True) > 0).float()  # (n, 1, 32, 32): the square at t + k
    flow = torch.stack([dx, dy], dim=1).float().view(n, 2, 1, 1).expand(n, 2, 4, 4) / STEP
    depth = torch.nn.functional.avg_pool2d(mask, 4)
    onehot = torch.nn.functional.one_hot(colour, 4).float().view(n, 4, 1, 1)
    semantic = torch.nn.functional.avg_pool2d(mask, 8) * onehot
    return {"current": current, "future": future, "flow": flow.contiguous(), "depth": depth, "semantic": semantic}
