"""Shared by the benchmark scripts: what machine this is, and recording results in RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """CPU model, core count, whether it computes bf16 natively, and Python version of this machine."""
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        flags = f.read()
    cpu = next((ln.split(":", 1)[1].strip() for ln in flags.splitlines() if ln.startswith("model name")), "?")
    # The same model name ("Intel(R) Xeon(R) Processor") comes with and without bf16, which changes CPU timings 2x.
    bf16 = "native bf16" if any(f in flags.split() for f in ("avx512_bf16", "amx_bf16")) else "no native bf16"
    node = platform.node() or "host"
    return f"{node}: {cpu} ({bf16}), {os.cpu_count()} cores, Python {platform.python_version()}"


def record(text: str) -> None:
    """Print a result section and append it to RESULTS.md."""
    print(text)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write("\n" + text)
