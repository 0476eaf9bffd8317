"""The plugin example in docs/plugins.md section 5 runs as printed."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def test_token_conditioned_plugin_snippet_runs():
    text = DOC.read_text()
    section = text[text.index("## 5. A plugin on the DiT / flow-matching heads") :]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "section 5 should hold exactly one runnable python block"
    namespace: dict = {}
    exec(compile(blocks[0], f"{DOC}:section-4", "exec"), namespace)
    chunk, method = namespace["chunk"], namespace["method"]
    assert chunk.shape == (2, 8, 7)
    # the snippet's method trained its head through token conditions with guidance
    assert method.head.null_cond is not None and method.head.guidance_scale == 1.5
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.head.noise_net.parameters())
