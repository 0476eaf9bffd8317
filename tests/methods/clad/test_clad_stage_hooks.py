"""CLaD's stage-start hook: eq. 14's EMA targets start from the online weights of the starting checkpoint."""

from __future__ import annotations

import torch
from clad_fixtures import build


def test_stage_one_restarts_the_targets_from_the_online_encoders_and_stage_two_leaves_them():
    model = build()
    with torch.no_grad():  # starting weights whose online encoders moved away from their targets (train.init_from)
        for _, online in model.dynamics.target_pairs():
            for p in online.parameters():
                p.add_(0.5)
    pairs = model.dynamics.target_pairs()
    assert all(not torch.equal(t.state_dict()[k], o.state_dict()[k]) for t, o in pairs for k in o.state_dict())
    before = {k: v.clone() for k, v in model.state_dict().items()}

    model.on_stage_start("policy")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    model.on_stage_start("dynamics")
    for target, online in pairs:
        for key, value in online.state_dict().items():
            assert torch.equal(target.state_dict()[key], value), key
    changed = {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}
    assert changed and all(k.startswith("dynamics.targets.") for k in changed)
