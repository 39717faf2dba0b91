"""Where training runs: devices, precisions, the hardware class an update declares, and the pins.

Every device PyTorch supports can mine: `cpu` (any kernel), `cuda` (`cuda:N`) and `mps`. A
*hardware class* names what decides the bits of a training run:

    device type / arch or CPU kernel / precision / torch version / processes
    e.g. cpu/AVX2/fp32/2.13.0+cpu/1, cuda/sm90/bf16/2.13.0+cu128/1, mps/arm64/fp32/2.13.0/1

Within one CPU class a replay is bit-exact (one thread, deterministic algorithms), so an audit
compares hashes. Between classes — another kernel, a GPU, a Mac, a data-parallel run — it is not,
and a validator replays with a tolerance instead (`work.crossclass`). GPUs and MPS are never treated
as bit-exact, even against themselves: their reductions may be scheduled differently run to run.

PyTorch picks its CPU kernel (DEFAULT, AVX2, AVX512, ...) once per process, from the CPU or from
ATEN_CPU_CAPABILITY read before the first dispatch, so a second process computes the same bits
only when it is started with the same kernel: `compute_kernel_env` gives the environment for that.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass

import torch

from hashgrad.errors import WorkError

DEVICE_TYPES = ("cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
MAX_CLASS_CHARS = 96
CLASS_PART = re.compile(r"^[A-Za-z0-9_.+\-]{1,40}$")
CUBLAS_WORKSPACE = ":4096:8"  # cuBLAS's deterministic workspace setting (read when cuBLAS starts)


def get_cpu_kernel() -> str:
    """The CPU kernel path torch dispatches to in this process (AVX2, AVX512, DEFAULT...)."""
    return torch.backends.cpu.get_cpu_capability()


def compute_kernel_env(kernel: str | None = None, base: dict | None = None) -> dict[str, str]:
    """An environment for a child process that runs `kernel` (default: this process's kernel)."""
    return dict(os.environ if base is None else base, ATEN_CPU_CAPABILITY=(kernel or get_cpu_kernel()).lower())


def is_mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def get_best_device() -> str:
    """cuda if a GPU is visible, else mps on Apple silicon, else cpu."""
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if is_mps_available() else "cpu"


def parse_device(text: str | None) -> torch.device:
    """`cpu`, `cuda`, `cuda:N`, `mps`, or None/`auto` for the best available; checked to exist here."""
    text = get_best_device() if text in (None, "", "auto") else text
    match = re.fullmatch(r"(cpu|cuda|mps)(?::(\d{1,3}))?", text)
    if not match or (match.group(2) is not None and match.group(1) != "cuda"):
        raise WorkError("bad-device", f"{text!r}; use cpu, cuda, cuda:N or mps")
    kind, index = match.group(1), match.group(2)
    if kind == "cuda" and not torch.cuda.is_available():
        raise WorkError("device-unavailable", "no CUDA device is visible to this process")
    if kind == "cuda" and index is not None and int(index) >= torch.cuda.device_count():
        raise WorkError("device-unavailable", f"cuda:{index}; this machine has {torch.cuda.device_count()} GPU(s)")
    if kind == "mps" and not is_mps_available():
        raise WorkError("device-unavailable", "MPS (Apple silicon) is not available")
    return torch.device(kind if index is None else f"cuda:{index}")


def is_bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast runs on this device (CPU: always; CUDA: Ampere or newer; MPS: macOS 14+)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "mps":
        is_newer = getattr(torch.backends.mps, "is_macos_or_newer", None)
        return bool(is_newer and is_newer(14, 0))
    return True


def get_precisions(device: torch.device) -> tuple[str, ...]:
    return PRECISIONS if is_bf16_supported(device) else ("fp32",)


def get_arch(device: torch.device) -> str:
    """The part of the class that names the silicon: the CPU kernel, the CUDA arch, or the Mac's CPU."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"sm{major}{minor}"
    if device.type == "mps":
        return platform.machine() or "apple"
    return get_cpu_kernel()


@dataclass(frozen=True)
class HardwareClass:
    device_type: str
    arch: str
    precision: str
    torch_version: str
    processes: int = 1  # data-parallel processes inside the miner (torchrun)

    def to_text(self) -> str:
        return "/".join((self.device_type, self.arch, self.precision, self.torch_version, str(self.processes)))


def parse_hardware_class(text: object) -> HardwareClass:
    """A declared class from an update header: bounded, well-formed, a known device and precision."""
    if not isinstance(text, str) or len(text) > MAX_CLASS_CHARS:
        raise WorkError("bad-hardware-class", "the hardware class must be a short string")
    parts = text.split("/")
    if len(parts) != 5 or not all(CLASS_PART.match(p) for p in parts):
        raise WorkError("bad-hardware-class", f"{text!r}: expected device/arch/precision/torch/processes")
    device_type, arch, precision, version, processes = parts
    if device_type not in DEVICE_TYPES or precision not in PRECISIONS:
        raise WorkError("bad-hardware-class", f"{text!r}: unknown device type or precision")
    if not processes.isdigit() or not 1 <= int(processes) <= 4096:
        raise WorkError("bad-hardware-class", f"{text!r}: processes must be 1..4096")
    return HardwareClass(device_type, arch, precision, version, int(processes))


@dataclass(frozen=True)
class Runtime:
    """Where and how a process trains: its device and precision (and data-parallel processes)."""

    device: torch.device = torch.device("cpu")
    precision: str = "fp32"
    processes: int = 1

    def get_class(self) -> HardwareClass:
        return HardwareClass(self.device.type, get_arch(self.device), self.precision, torch.__version__, self.processes)

    def build_autocast(self):
        """The context a forward pass runs in: bf16 autocast, or nothing (fp32)."""
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")


CPU_FP32 = Runtime()


def build_runtime(device: str | None = None, precision: str = "fp32") -> Runtime:
    """A checked Runtime for `--device` and a precision the device supports."""
    parsed = parse_device(device)
    if precision not in get_precisions(parsed):
        raise WorkError(
            "bad-precision", f"{precision} on {parsed}; this device runs {', '.join(get_precisions(parsed))}"
        )
    return Runtime(parsed, precision)


def is_exact_class(miner: HardwareClass, validator: HardwareClass) -> bool:
    """Whether a validator can replay the miner bit for bit: the same class, one CPU process."""
    return miner == validator and miner.device_type == "cpu" and miner.processes == 1


def set_determinism_pins(threads: int = 1, device: torch.device | None = None) -> None:
    """Process-wide pins every replayable computation needs (call once in the shell, before CUDA work).

    CPU: one thread and deterministic algorithms. CUDA: cuBLAS's deterministic workspace, no TF32,
    deterministic cuDNN; algorithms without a deterministic CUDA kernel warn rather than stop the
    miner, since GPU classes are checked with a tolerance anyway."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.set_num_threads(threads)
    on_cpu = device is None or device.type == "cpu"
    torch.use_deterministic_algorithms(True, warn_only=not on_cpu)
    if not on_cpu:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
