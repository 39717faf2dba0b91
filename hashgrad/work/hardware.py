"""Where training runs: the CPU kernel a process dispatches to, and the environment that pins it.

PyTorch picks its CPU kernel (DEFAULT, AVX2, AVX512, ...) once per process, from the CPU or from
ATEN_CPU_CAPABILITY read before the first dispatch, so a second process computes the same bits
only when it is started with the same kernel: `compute_kernel_env` gives the environment for that.
"""
from __future__ import annotations

import os

import torch


def get_cpu_kernel() -> str:
    """The CPU kernel path torch dispatches to in this process (AVX2, AVX512, DEFAULT...)."""
    return torch.backends.cpu.get_cpu_capability()


def compute_kernel_env(kernel: str | None = None, base: dict | None = None) -> dict[str, str]:
    """An environment for a child process that runs `kernel` (default: this process's kernel)."""
    return dict(os.environ if base is None else base, ATEN_CPU_CAPABILITY=(kernel or get_cpu_kernel()).lower())
