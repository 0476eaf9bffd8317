"""Knowledge Matching (§III-E2, eq. 7): a KL between the trainable token policy and a frozen reference copy.

Eq. 7 writes ``KL(p_policy || p_ref)``; the released code (``QwenPIKM``, ``kl_type: reverse_kl``) computes
``KL(p_ref || p_policy)`` and averages over ground-truth action-token positions. Both are here
(``rf.km_direction``: ``policy_ref`` is eq. 7, ``ref_policy`` the code); the reduction is the code's mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def knowledge_matching_kl(policy_logits: torch.Tensor, ref_logits: torch.Tensor, direction: str) -> torch.Tensor:
    """Mean over positions of ``KL(p || q)`` between categorical distributions given by logits ``(..., K)``.

    ``direction="policy_ref"``: ``p = policy, q = ref`` (eq. 7); ``"ref_policy"``: ``p = ref, q = policy`` (code).
    """
    log_policy = F.log_softmax(policy_logits.float(), dim=-1)
    log_ref = F.log_softmax(ref_logits.float(), dim=-1)
    if direction == "policy_ref":
        log_p, log_q = log_policy, log_ref
    elif direction == "ref_policy":
        log_p, log_q = log_ref, log_policy
    else:
        raise ValueError(f"km_direction {direction!r}: expected 'policy_ref' (eq. 7) or 'ref_policy' (code)")
    return (log_p.exp() * (log_p - log_q)).sum(-1).mean()
