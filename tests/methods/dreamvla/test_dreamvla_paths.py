"""Where each loss's gradient goes (§3.3: the structured attention keeps knowledge types apart), and that inference
never runs a decoder (§3.1)."""

from __future__ import annotations

import pytest
import torch
from dreamvla_fixtures import batch, build, four_types

TYPES = ("dynamic", "depth", "sam", "dino")


def grads(method, loss: torch.Tensor) -> dict[str, torch.Tensor | None]:
    method.zero_grad(set_to_none=True)
    loss.backward()
    return {n: (None if p.grad is None or not p.grad.any() else p.grad) for n, p in method.named_parameters()}


@pytest.fixture(scope="module")
def method():
    return build({**four_types(), "pretrain": False}).train()


@pytest.fixture(scope="module")
def data(method):
    return batch(method)


@pytest.mark.parametrize("kind", TYPES)
def test_a_knowledge_loss_reaches_its_queries_decoder_and_the_backbone_only(method, data, kind):
    g = grads(method, method.losses(data, "finetune")[kind])
    for other in TYPES:
        touched = [n for n, v in g.items() if n.startswith(f"decoders.{other}.") and v is not None]
        assert bool(touched) == (other == kind), (kind, other, touched[:3])
    assert not [n for n, v in g.items() if n.startswith("head.") and v is not None]
    assert g["backbone.action_queries"] is None
    rows = g["backbone.dream_queries"].abs().sum(-1)  # (types x views x queries): one view, two queries
    own = torch.zeros(4, 1, 2, dtype=torch.bool)
    own[TYPES.index(kind)] = True
    assert (rows.view(4, 1, 2)[own] > 0).all() and (rows.view(4, 1, 2)[~own] == 0).all()
    assert g["backbone.gpt.h.0.attn.c_attn.weight"] is not None and g["backbone.state.out.weight"] is not None


def test_the_action_loss_never_reaches_a_decoder(method, data):
    with torch.no_grad():  # a fresh DiT's zero-initialised output layer passes no gradient upstream: move it
        method.head.noise_net.proj_out.weight.normal_(0, 0.1)
    g = grads(method, method.losses(data, "finetune")["action"])
    assert not [n for n, v in g.items() if n.startswith("decoders.") and v is not None]
    assert g["backbone.action_queries"] is not None and g["head.noise_net.proj_out.weight"] is not None
    assert g["backbone.dream_queries"] is not None  # the action queries read their step's dream queries


def test_decoders_run_in_training_and_never_at_inference(method, data):
    calls = {name: 0 for name in method.decoders}

    def counter(name):
        def hook(*_):
            calls[name] += 1

        return hook

    handles = [module.register_forward_hook(counter(name)) for name, module in method.decoders.items()]
    try:
        method.eval()
        spec = method.data_spec(None)
        chunk = method.predict_action_chunk({k: v for k, v in data.items() if not k.startswith("targets.")} | {
            "observation.images.agentview": data["observation.images.agentview"][:, :2],
            "observation.images.wrist": data["observation.images.wrist"][:, :2],
            "observation.state": data["observation.state"][:, :2],
            "observation.is_pad": data["observation.is_pad"][:, :2],
        })  # fmt: skip
        assert spec.obs_offsets == (-1, 0) and chunk.shape == (2, 3, 7)
        assert calls == dict.fromkeys(method.decoders, 0)
        method.train()
        method.losses(data, "finetune")
        assert calls == dict.fromkeys(method.decoders, 1)  # once per knowledge view (one here)
    finally:
        for handle in handles:
            handle.remove()
