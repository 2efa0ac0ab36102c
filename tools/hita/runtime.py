"""Process set-up shared by the tools."""
from __future__ import annotations

import os

import torch


def configure_threads() -> int:
    """Use every core: Debian's torch starts with one thread here (STACK.md)."""
    threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    torch.set_num_threads(threads)
    return threads
