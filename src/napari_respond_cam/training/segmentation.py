"""Training the demo 3D U-Net to segment the five complexes in simulated tomograms.

Run ``python -m napari_respond_cam.training.segmentation --out demo_unet.pt`` to train the
shipped ``unet-demo`` model on one CPU thread (about 23 minutes of one core: 0.45 s a step,
3000 steps, after a few seconds of simulation), with the CPU's kernels pinned as
:mod:`.reproducible_kernels` says, so that any x86-64 CPU with AVX2 gives the same weights
(with 1500 steps, the recipe before, two runs on different CPU kernels ended at training
losses of 0.69 and 0.80). Each step
draws random crops from a pool of simulated tomograms (most centred on a particle, since
the complexes fill only a few percent of a tomogram), flips them, z-scores each crop as
the model's preprocessing does per window, and minimises cross-entropy plus a soft Dice
loss over the five complexes (the Dice term keeps the rare classes from drowning in
background).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..engine.preprocessing import WINDOW_ZSCORE, Preprocessing
from ..models.architectures import architecture
from ..models.model_metadata import set_model_attribute
from ..simulation import SAMPLE_SNR, TEMPLATE_VOXEL_SIZE_A, SimulatedTomogram, simulate_tomogram
from .reproducible_kernels import kernel_note, kernel_record, pin_kernels

#: The output channel of voxels outside every particle; channel ``k + 1`` is class ``k``,
#: as the simulator's label volumes number them.
BACKGROUND_CLASS = 0
BACKGROUND_NAME = "background"
#: The first seed of the validation tomogram; training uses seeds from ``seed + 1`` and
#: measurements should use seeds that neither does.
VALIDATION_SEED = 10_000
#: The preprocessing the crops get in training, and the model applies per window.
PREPROCESSING = Preprocessing(WINDOW_ZSCORE)


@dataclass(frozen=True)
class SegmentationConfig:
    """What to train on and how; the defaults make the shipped demo U-Net.

    The tomograms are more crowded than the napari sample's (particles fill about 10 % of
    the volume rather than 3 %) so that each crop teaches more; ``snrs`` are mixed in
    equal parts over the pool of ``n_tomograms``.
    """

    channels: tuple[int, int, int] = (8, 16, 32)
    crop: int = 48
    tomogram_shape: tuple[int, int, int] = (96, 160, 160)
    n_particles: int = 70
    n_tomograms: int = 12
    snrs: tuple[float | None, ...] = (1.0, 0.3, 0.1, 0.05)
    steps: int = 3000
    batch_size: int = 2
    learning_rate: float = 3e-3
    centred_share: float = 0.7
    dice_weight: float = 1.0
    n_validation_crops: int = 8
    log_every: int = 50
    seed: int = 0


@dataclass
class SegmentationHistory:
    """Mean training loss and validation Dice per class (None: class absent) at each log."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    dice: list[list[float | None]] = field(default_factory=list)


def training_tomograms(
    config: SegmentationConfig, first_seed: int, snrs: Sequence[float | None]
) -> list[SimulatedTomogram]:
    """One simulated tomogram as configured per SNR in ``snrs``, seeds from ``first_seed``."""
    return [
        simulate_tomogram(
            config.tomogram_shape, n_particles=config.n_particles, snr=snr, seed=first_seed + i
        )
        for i, snr in enumerate(snrs)
    ]


def random_crops(
    tomograms: Sequence[SimulatedTomogram],
    config: SegmentationConfig,
    rng: np.random.Generator,
    n: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random crops as the network's input ``(n, 1, c, c, c)`` and labels ``(n, c, c, c)``.

    A share ``config.centred_share`` of them is centred (as far as the edges allow) on a
    random particle; each is flipped along random axes (which keeps the missing wedge's
    orientation) and z-scored as :data:`PREPROCESSING` does per window.
    """
    size = config.crop
    volumes = np.empty((n, 1, size, size, size), dtype=np.float32)
    labels = np.empty((n, size, size, size), dtype=np.int64)
    for i in range(n):
        tomogram = tomograms[int(rng.integers(len(tomograms)))]
        shape = np.asarray(tomogram.volume.shape)
        if rng.random() < config.centred_share and len(tomogram.particles):
            centre = tomogram.particles.positions[rng.integers(len(tomogram.particles))]
            start = np.clip(centre - size // 2, 0, shape - size)
        else:
            start = rng.integers(0, shape - size + 1)
        box = tuple(slice(a, a + size) for a in start)
        flips = tuple(axis for axis in range(3) if rng.random() < 0.5)
        volumes[i, 0] = np.flip(tomogram.volume[box], flips)
        labels[i] = np.flip(tomogram.labels[box], flips)
    return PREPROCESSING.apply(torch.from_numpy(volumes)), torch.from_numpy(labels)


def segmentation_loss(
    logits: torch.Tensor, labels: torch.Tensor, dice_weight: float = 1.0
) -> torch.Tensor:
    """Cross-entropy plus ``dice_weight`` x (1 - soft Dice averaged over the particle classes).

    The soft Dice of class ``k`` is ``(2 sum p_k t_k + 1) / (sum p_k + sum t_k + 1)`` over
    the batch, with ``p`` the softmax and ``t`` the one-hot labels; the background
    channel is left out of the average.
    """
    cross_entropy = nn.functional.cross_entropy(logits, labels)
    probabilities = logits.softmax(dim=1)
    one_hot = nn.functional.one_hot(labels, logits.shape[1]).movedim(-1, 1).to(logits.dtype)
    axes = (0, *range(2, logits.ndim))
    overlap = (probabilities * one_hot).sum(dim=axes)
    total = probabilities.sum(dim=axes) + one_hot.sum(dim=axes)
    dice = (2 * overlap + 1) / (total + 1)
    foreground = torch.arange(logits.shape[1], device=logits.device) != BACKGROUND_CLASS
    return cross_entropy + dice_weight * (1 - dice[foreground].mean())


def dice_scores(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Dice ``2 |P & T| / (|P| + |T|)`` of each class's predicted and true voxels.

    A class absent from both gets NaN (there is nothing to score).
    """
    scores = np.full(n_classes, np.nan)
    for k in range(n_classes):
        pred, true = predicted == k, labels == k
        size = int(pred.sum()) + int(true.sum())
        if size:
            scores[k] = 2 * int((pred & true).sum()) / size
    return scores


def build_unet(config: SegmentationConfig, class_names: Sequence[str]) -> nn.Module:
    """A fresh U-Net with one output channel per name, carrying its metadata."""
    torch.manual_seed(config.seed)
    model = architecture("unet3d").build(num_classes=len(class_names), channels=config.channels)
    set_model_attribute(model, "class_names", tuple(class_names))
    set_model_attribute(model, "background_class", BACKGROUND_CLASS)
    set_model_attribute(model, "input_shape", (1, config.crop, config.crop, config.crop))
    set_model_attribute(model, "preprocessing", PREPROCESSING)
    set_model_attribute(model, "voxel_size_a", TEMPLATE_VOXEL_SIZE_A)
    return model


def train_segmentation(
    config: SegmentationConfig = SegmentationConfig(),
    log: Callable[[str], None] = print,
    checkpoint: Callable[[nn.Module, SegmentationHistory], None] | None = None,
) -> tuple[nn.Module, SegmentationHistory]:
    """Train the U-Net on simulated tomograms, logging loss and validation Dice.

    Parameters
    ----------
    config : SegmentationConfig
    log : callable
        Receives one line every ``config.log_every`` steps.
    checkpoint : callable, optional
        Called with the model and the history so far after each line logged.

    Returns
    -------
    (torch.nn.Module, SegmentationHistory)
        The model in eval mode, and its history.
    """
    start = time.perf_counter()
    snrs = [config.snrs[i % len(config.snrs)] for i in range(config.n_tomograms)]
    tomograms = training_tomograms(config, config.seed + 1, snrs)
    class_names = (BACKGROUND_NAME, *tomograms[0].class_names)
    validation = random_crops(
        training_tomograms(config, VALIDATION_SEED + config.seed, [SAMPLE_SNR]),
        config,
        np.random.default_rng(VALIDATION_SEED + config.seed),
        config.n_validation_crops,
    )
    log(f"simulated {config.n_tomograms} tomograms ({time.perf_counter() - start:.0f} s)")
    log(kernel_note())
    model = build_unet(config, class_names)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps)
    rng = np.random.default_rng(config.seed)
    history, losses = SegmentationHistory(), []
    for step in range(1, config.steps + 1):
        model.train()
        inputs, labels = random_crops(tomograms, config, rng, config.batch_size)
        optimiser.zero_grad(set_to_none=True)
        loss = segmentation_loss(model(inputs), labels, config.dice_weight)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if step % config.log_every == 0 or step == config.steps:
            dice = _validation_dice(model, *validation, len(class_names))
            history.steps.append(step)
            history.loss.append(float(np.mean(losses)))
            history.dice.append([None if np.isnan(d) else round(float(d), 4) for d in dice])
            losses = []
            shown = "  ".join(
                f"{n} {d:.3f}" for n, d in zip(class_names[1:], dice[1:], strict=True)
            )
            log(f"step {step}/{config.steps}  loss {history.loss[-1]:.4f}  Dice {shown}  "
                f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
            if checkpoint is not None:
                checkpoint(model, history)
    return model.eval(), history


def _validation_dice(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, n_classes: int
) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(inputs[i : i + 2]) for i in range(0, len(inputs), 2)])
    return dice_scores(predicted.argmax(dim=1).numpy(), labels.numpy(), n_classes)


def train_and_save(
    config: SegmentationConfig, out: Path, log: Callable[[str], None] = print
) -> nn.Module:
    """Train, then save weights and metadata that ``load_model`` reads.

    The file is also written after each logged step (a run stopped early leaves the
    weights so far, its record saying how many steps they had).
    """
    from ..models.model_files import save_model

    def save(model: nn.Module, history: SegmentationHistory) -> None:
        record = {
            "config": asdict(config),
            "history": asdict(history),
            "environment": kernel_record(),
        }
        set_model_attribute(model, "training_record", record)
        save_model(model, out)

    model, _ = train_segmentation(config, log, checkpoint=save)
    log(f"saved {out}")
    return model


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: train with the defaults (or fewer steps) and save to ``--out``."""
    defaults = SegmentationConfig()
    parser = argparse.ArgumentParser(
        prog="python -m napari_respond_cam.training.segmentation", description=__doc__
    )
    parser.add_argument("--out", type=Path, required=True, help="the .pt file to write")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    args = parser.parse_args(argv)
    pin_kernels()
    torch.set_num_threads(args.threads)
    config = SegmentationConfig(steps=args.steps, seed=args.seed)
    train_and_save(config, args.out, lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
