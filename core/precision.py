"""Which float formats this CPU computes natively."""
from __future__ import annotations

import torch


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX-BF16 tiles or AVX512-BF16 instructions);
    elsewhere bf16 autocast is emulated and slower than float32."""
    cpu = torch.cpu
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
