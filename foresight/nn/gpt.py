"""A GPT-2 trunk for token sequences a method assembles itself (DreamVLA's context and queries, CLAP's scratch
policy): fed through ``inputs_embeds`` only, so its word-embedding table has one row, never read."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import GPT2Model


def gpt2_on_embeddings(hidden_dim: int, num_layers: int, num_heads: int, positions: int, dropout: float) -> GPT2Model:
    from transformers import GPT2Config, GPT2Model  # transformers is slow to import: only methods that build one

    config = GPT2Config(
        vocab_size=1,  # inputs_embeds only: the token table is never indexed
        bos_token_id=None,
        eos_token_id=None,
        n_positions=positions,
        n_embd=hidden_dim,
        n_layer=num_layers,
        n_head=num_heads,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
    )
    return GPT2Model(config)
