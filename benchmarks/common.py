"""Shared by the benchmark scripts: what machine this is, and recording results in RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """CPU model, core count and Python version of this machine."""
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    return f"{platform.node() or 'host'}: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def record(text: str) -> None:
    """Print a result section and append it to RESULTS.md."""
    print(text)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write("\n" + text)
