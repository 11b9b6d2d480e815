"""``respond-cam train``: the paper's CNN-1/CNN-2 trained on windows of simulated tomograms."""

from __future__ import annotations

import argparse
from pathlib import Path

from .threads_argument import add_threads_argument, apply_threads

DESCRIPTION = """\
Train CNN-1 or CNN-2 of the Respond-CAM paper on 40^3 windows of simulated tomograms
of five real complexes, each named after the particle at its centre or "background",
printing validation accuracy per SNR after each epoch, and save a checkpoint that
load_model and --model read. With the CPU's kernels capped at AVX2 (on any x86-64 CPU
with AVX2 and FMA), the defaults and two threads reproduce the shipped demo models:
respond-cam train --threads 2 --out demo_cnn1.pt
respond-cam train --threads 2 --architecture cnn2 --out demo_cnn2.pt
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train", help="train the paper's CNNs on simulated data", description=DESCRIPTION
    )
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    parser.add_argument(
        "--architecture",
        metavar="NAME",
        help="a registered architecture: cnn1 (the default) or cnn2",
    )
    # Defaults (None) come from TrainingConfig, so they live in one place.
    parser.add_argument(
        "--epochs", type=int, help="passes over the training windows (default: the demo model's)"
    )
    parser.add_argument(
        "--tomograms-per-snr", type=int, help="training tomograms simulated at each SNR"
    )
    parser.add_argument(
        "--validation-tomograms-per-snr", type=int, help="validation tomograms at each SNR"
    )
    parser.add_argument(
        "--snrs", help="comma-separated; inf = no noise (default inf,1,0.3,0.1,0.05)"
    )
    parser.add_argument("--batch-size", type=int, help="windows per optimisation step")
    parser.add_argument(
        "--learning-rate",
        type=float,
        help="Adam's peak step size, reached after one epoch; layers summing many inputs "
        "take a share of it (default: the demo model's)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="seed of the simulated tomograms, the first weights and the windows drawn "
        "(default: the demo model's)",
    )
    parser.add_argument("--device")
    add_threads_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train and save; 0 on success."""
    from ..training.reproducible_kernels import pin_kernels

    pin_kernels()
    from ..training.classifier import TrainingConfig, train_and_save

    apply_threads(args.threads)
    _check_before_training(args)
    chosen = {
        name: getattr(args, name)
        for name in (
            "architecture",
            "epochs",
            "tomograms_per_snr",
            "validation_tomograms_per_snr",
            "batch_size",
            "learning_rate",
            "seed",
            "device",
        )
        if getattr(args, name) is not None
    }
    if args.snrs is not None:
        chosen["snrs"] = _parse_snrs(args.snrs)
    # As explain creates its --out folder: only now, with everything checked.
    args.out.parent.mkdir(parents=True, exist_ok=True)
    train_and_save(TrainingConfig(**chosen), args.out)
    return 0


def _check_before_training(args: argparse.Namespace) -> None:
    """Catch what would otherwise fail only after the training's minutes of work."""
    import torch

    from ..engine.devices import requested_device
    from ..errors import RespondCamError
    from ..training.classifier import TrainingConfig

    if args.out.suffix not in (".pt", ".pth", ".safetensors"):
        raise RespondCamError(f"--out {args.out} must end in .pt, .pth or .safetensors.")
    if args.out.exists():
        raise RespondCamError(f"{args.out} exists; choose another --out or remove it first.")
    folder = next((p for p in args.out.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise RespondCamError(
            f"--out {args.out}: {folder} is a file, not a folder; name a .pt file in a folder "
            "(a folder that does not exist yet is created)."
        )
    for flag in (
        "epochs", "tomograms_per_snr", "validation_tomograms_per_snr", "batch_size"
    ):  # fmt: skip
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise RespondCamError(f"--{flag.replace('_', '-')} must be at least 1, got {value}.")
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise RespondCamError(f"--learning-rate must be > 0, got {args.learning_rate}.")
    if args.device is not None:
        requested_device(args.device, torch.nn.Module())
    if args.architecture is not None:
        TrainingConfig(architecture=args.architecture)


def _parse_snrs(text: str) -> tuple[float | None, ...]:
    from ..errors import RespondCamError

    try:
        return tuple(None if s == "inf" else float(s) for s in text.split(","))
    except ValueError:
        raise RespondCamError(f"--snrs {text!r} is not a list like 'inf,1,0.1'.") from None
