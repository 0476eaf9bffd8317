import pytest
import torch
from torch import nn

from foresight.nn import EMA, ema_update_


def _net(value: float) -> nn.Module:
    net = nn.BatchNorm1d(2)  # weight, bias, running stats (float) and num_batches_tracked (int)
    with torch.no_grad():
        net.weight.fill_(value)
        net.running_mean.fill_(value)
        net.num_batches_tracked.fill_(int(value))
    return net


def test_ema_update_hand_computation_over_three_updates():
    target, m = _net(1.0), 0.9
    expected = 1.0
    for value in (2.0, 4.0, 8.0):
        ema_update_(target, _net(value), m)
        expected = m * expected + (1 - m) * value
    # 1 -> 1.1 -> 1.39 -> 2.051
    assert expected == pytest.approx(2.051)
    torch.testing.assert_close(target.weight, torch.full((2,), 2.051))
    torch.testing.assert_close(target.running_mean, torch.full((2,), 2.051))
    assert int(target.num_batches_tracked) == 8  # integer buffers are copied
    assert not target.weight.requires_grad or target.weight.grad is None


def test_ema_update_rejects_bad_momentum_and_mismatch():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ema_update_(_net(0), _net(1), 1.5)
    with pytest.raises(ValueError, match="modules differ"):
        ema_update_(nn.Linear(2, 2), nn.Linear(2, 2, bias=False), 0.5)


def test_ema_class_warmup_schedule_by_hand():
    model = _net(0.0)
    ema = EMA(model, decay=0.6, warmup=1.0)  # decay_n = min(0.6, 1 - 1/(1+n)) = 0, 0.5, 0.6
    expected = 0.0
    for value, decay in zip((2.0, 4.0, 8.0), (0.0, 0.5, 0.6), strict=True):
        assert ema.current_decay() == pytest.approx(decay)
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update(model)
        expected = decay * expected + (1 - decay) * value
    assert expected == pytest.approx(0.6 * 3.0 + 0.4 * 8.0)
    torch.testing.assert_close(ema.shadow["weight"], torch.full((2,), expected))
    assert ema.num_updates == 3


def test_ema_constant_decay_without_warmup():
    model = _net(1.0)
    ema = EMA(model, decay=0.9, warmup=None)
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(model)
    torch.testing.assert_close(ema.shadow["weight"], torch.full((2,), 1.1))


def test_swap_copy_to_and_state_dict_round_trip():
    model = _net(1.0)
    ema = EMA(model, decay=0.5, warmup=None)
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model)  # shadow = 2
    with ema.swap(model):
        torch.testing.assert_close(model.weight, torch.full((2,), 2.0))
    torch.testing.assert_close(model.weight, torch.full((2,), 3.0))
    with pytest.raises(RuntimeError), ema.swap(model):
        raise RuntimeError("boom")
    torch.testing.assert_close(model.weight, torch.full((2,), 3.0))

    other = EMA(_net(0.0), decay=0.5, warmup=None)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 1
    torch.testing.assert_close(other.shadow["weight"], torch.full((2,), 2.0))
    other.copy_to(model)
    torch.testing.assert_close(model.weight, torch.full((2,), 2.0))

    state = ema.state_dict()
    state.pop("bias")
    with pytest.raises(KeyError, match="missing \\['bias'\\]"):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="does not match"):
        ema.update(nn.Linear(2, 2))
