"""The block-wise structured attention (Fig. 4) against a matrix written out by hand, its switches (Table 7), and
that GPT-2 really obeys it."""

from __future__ import annotations

import copy

import torch
from dreamvla_fixtures import batch, build, node

from foresight.methods.dreamvla.attention import TokenLayout, additive_mask, mask_padded_steps, structured_mask

# S = 2 steps, one view, two knowledge types (dynamic, depth), one query each, one action query. Per step: 4
# context tokens (instruction, state, the view's [CLS], one resampled latent), dream(dynamic), dream(depth), action.
#        step 0: c c c c  Dy De A | step 1: c c c c  Dy De A
HAND = [
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # context, step 0: its step's context only
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # dream (dynamic): context and itself, never depth's query
    [1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],  # dream (depth)
    [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],  # action: context, its step's dreams, itself
    [1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0],  # context, step 1: past and present context, no query
    [1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0],  # dream (dynamic), step 1: no query of step 0 either
    [1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0],
    [1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1],  # action, step 1: step 0's dreams are not its own
]
SMALL = {
    "history": 2,
    "views": ["primary"],
    "chunk": 1,
    "backbone": {"resampler_latents": 1},
    "knowledge": {"types": ["dynamic", "depth"], "queries_per_type": 1, "depth_patch": 8},
}


def small(**switches) -> dict:
    values = node(**copy.deepcopy(SMALL))
    for section, changes in switches.items():
        values[section].update(changes)
    return values


def test_the_method_builds_the_hand_written_structured_mask():
    method = build(small())
    assert method.backbone.layout == TokenLayout(context=4, dream=2, action=1, steps=2)
    assert torch.equal(method.backbone.allowed, torch.tensor(HAND, dtype=torch.bool))


def test_causal_switch_gives_the_lower_triangle_of_the_same_sequence():
    method = build(small(backbone={"attention": "causal"}))
    assert torch.equal(method.backbone.allowed, torch.ones(14, 14, dtype=torch.bool).tril())


def test_shared_queries_keep_one_query_group_per_view():
    method = build(small(backbone={"queries": "shared"}, knowledge={"queries_per_type": 2}))
    lay = method.backbone.layout
    assert (lay.context, lay.dream, lay.action) == (4, 2, 1)  # 2 shared queries instead of 2 types x 2
    assert method.backbone.dream_groups == ["shared.agentview"]
    assert method.decoders["dynamic"].inp.in_features == 32 // 2  # each type decodes its quarter (here half)
    separate = build(small(knowledge={"queries_per_type": 2}))
    assert separate.backbone.layout.dream == 4 and separate.backbone.dream_groups == ["dynamic.agentview",
                                                                                     "depth.agentview"]  # fmt: skip


def test_a_knowledge_type_switched_off_loses_its_queries_decoder_teacher_and_loss():
    both, one = build(small()), build(small(knowledge={"types": ["dynamic"]}))
    assert both.backbone.layout.dream == 2 and one.backbone.layout.dream == 1
    assert set(both.decoders) == {"dynamic", "depth"} and set(one.decoders) == {"dynamic"}
    assert [t.name for t in both.data_spec("finetune").targets] == ["motion", "depth"]
    assert [t.name for t in one.data_spec("finetune").targets] == ["motion"]
    assert one.backbone.dream_queries.shape == (1, 32)
    # its loss is gone: the same batch gives the action and dynamic terms only
    assert set(one.losses(batch(one), "finetune")) == {"action", "dynamic"}
    assert set(both.losses(batch(both), "finetune")) == {"action", "dynamic", "depth"}
    vanilla = build({**small(knowledge={"types": []}), "pretrain": False})  # Table 3's "Vanilla VLA"
    assert vanilla.backbone.layout.dream == 0 and not vanilla.data_spec("finetune").targets
    assert [s.trainable for s in vanilla.stages()] == [("backbone", "head")]


def test_padded_history_steps_are_hidden_from_real_steps():
    lay = TokenLayout(context=4, dream=2, action=1, steps=2)
    allowed = mask_padded_steps(structured_mask(lay), lay, torch.tensor([[True, False], [False, False]]))
    hand = torch.tensor(HAND, dtype=torch.bool)
    assert torch.equal(allowed[1], hand)
    expected = hand.clone()
    expected[7:, :7] = False  # step 1 reads nothing of the padded step 0; step 0's own rows keep their pattern
    assert torch.equal(allowed[0], expected)
    additive = additive_mask(allowed, torch.float32)
    assert additive.shape == (2, 1, 14, 14)
    assert (additive[0, 0][expected] == 0).all() and (additive[0, 0][~expected] == torch.finfo(torch.float32).min).all()


def _query_outputs(method, batch, dream_row: int, delta: float) -> dict:
    queries = method.backbone.dream_queries
    saved = queries.detach().clone()
    with torch.no_grad():
        queries[dream_row] += delta
        inputs = method._encode(batch, [0, 1], language=True)
        out = method.backbone(inputs["text"], inputs["state"], inputs["images"], inputs["step_is_pad"])
        queries.copy_(saved)
    return out


def test_gpt2_obeys_the_mask_a_dream_query_never_reads_another():
    for mode, dynamic_moves in (("structured", False), ("causal", True)):
        method = build(small(backbone={"attention": mode})).eval()
        data = batch(method)
        base = _query_outputs(method, data, 0, 0.0)
        moved = _query_outputs(method, data, 1, 5.0)  # perturb the depth query (after dynamic in the sequence)
        assert torch.allclose(base["dream"][:, :, 0], moved["dream"][:, :, 0])  # dynamic never reads it
        assert not torch.allclose(base["action"], moved["action"])  # the action query reads its step's dreams
        moved = _query_outputs(method, data, 0, 5.0)  # perturb the dynamic query
        reads = not torch.allclose(base["dream"][:, :, 1], moved["dream"][:, :, 1])
        assert reads == dynamic_moves, mode  # depth reads dynamic only under the causal mask
