"""The one `--device` option of every command that runs a model (`hashgrad miner`, `validator`,
`serve miner`, `serve validate`), and the one way it is read: `work.hardware.parse_device`, which
refuses an unknown name (`bad-device`) and a device this machine lacks (`device-unavailable`)."""

from __future__ import annotations

import argparse

DEVICE_HELP = "cpu, cuda, cuda:N or mps (default: the best available: CUDA, then MPS, then CPU)"


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)


def get_device(args):
    """The torch.device `--device` names, checked against this machine."""
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.hardware import parse_device

    return parse_device(getattr(args, "device", "cpu"))
