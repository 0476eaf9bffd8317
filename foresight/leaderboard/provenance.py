"""What machine an evaluation ran on, for the results file's ``hardware`` field.

Wall time is only comparable with the hardware beside it; CPU model, GPU names and the OS are recorded, host
names are not (they identify people, not performance).
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _gpu_names() -> list[str]:
    try:
        import torch
    except ImportError:  # torch is a core dependency, but a results file may be written without it
        return []
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def hardware_info() -> dict[str, Any]:
    """``{"cpu": model, "gpus": [names], "platform": OS string}`` for this machine."""
    return {"cpu": _cpu_model(), "gpus": _gpu_names(), "platform": platform.platform()}
