"""Training the paper's networks on windows of simulated tomograms (the demo models).

The networks learn from what they are shown on a tomogram: 40^3 windows cut at random
places of simulated tomograms like the sample (as crowded, imaged as a whole through a
noisy tilt series), with neighbours and parts of particles in view, each named after the
particle whose centre lies within :data:`..simulation.LABEL_RADIUS` of the window's centre,
or ``"background"``. Every epoch draws new windows from the same tomograms: one
near each particle (a random offset within the radius) and half as many random ones
(about half of them background at the sample's crowding), each turned by a random half
turn about Z, Y or X (the missing wedge is symmetric under these, so the turned window is
one the microscope could have made).

The step size rises linearly over the first epoch and falls along a half cosine to zero
at the last (a plain Adam step from the start killed CNN-1's fourth convolution), and a
layer summing many inputs takes a proportionally smaller one (:mod:`.step_sizes`).

Run ``respond-cam train --out model.pt`` (``--architecture cnn2`` for CNN-2); with the
defaults and ``--threads 2`` it reproduces the shipped demo models, seed for seed. The
float sums, and so the weights, depend on the number of threads and on the CPU's
kernels: the command caps those at AVX2 (:mod:`.reproducible_kernels`), so that any x86-64
CPU with AVX2 and FMA runs the same ones, and the checkpoint's training record names what
a run used.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..engine.preprocessing import WINDOW_ZSCORE, Preprocessing
from ..errors import RespondCamError
from ..models.architectures import architecture
from ..models.model_metadata import set_model_attribute
from ..simulation import (
    BACKGROUND_CLASS,
    LABEL_RADIUS,
    SAMPLE_PARTICLES,
    SAMPLE_SHAPE,
    TEMPLATE_VOXEL_SIZE_A,
    ParticleTable,
    class_names,
    simulate_tomogram,
)
from ..simulation.windows import centres_near, cut_windows, label_windows, random_centres
from .reproducible_kernels import kernel_note, kernel_record, portable_dropout
from .step_sizes import set_step_sizes, step_groups

#: How the windows are scaled before the network sees them, in training and on a tomogram.
PREPROCESSING = Preprocessing(WINDOW_ZSCORE)


class DemoRecipe(NamedTuple):
    """What a config leaves out takes from its architecture's shipped demo model."""

    epochs: int
    learning_rate: float
    #: CNN-2's is the run chosen among seeds on validation tomograms (docs/choose_demo_seed.py).
    seed: int


#: Each trainable architecture's demo recipe: its keys are the architectures trained here.
DEMO_RECIPES = {"cnn1": DemoRecipe(40, 1e-3, seed=0), "cnn2": DemoRecipe(40, 1e-3, seed=2)}


@dataclass(frozen=True)
class TrainingConfig:
    """What to train on and how; the defaults make the shipped demo models.

    ``snrs`` lists the noise levels of the tilt series (``None`` = no noise), with
    ``tomograms_per_snr`` training tomograms each; ``channels``/``dense`` are narrower than
    the paper's (32, 32, 64, 64)/(512, 512) so the weights stay under 10 MB, and their
    ``dropout`` (after ``fc1`` and ``fc2`` while training) is lighter than the usual 0.5
    for the narrower layers. ``epochs`` and ``learning_rate`` (the peak step size of a
    layer summing at most :data:`.step_sizes.FULL_STEP_FAN_IN` inputs) left at 0, and
    ``seed`` left at None, take the architecture's :data:`DEMO_RECIPES` entry when the
    config is made; ``dataclasses.replace`` keeps the numbers already filled in.
    """

    architecture: str = "cnn1"
    input_size: int = 40
    channels: tuple[int, ...] = (8, 8, 16, 16)
    dense: tuple[int, ...] = (128, 128)
    dropout: float = 0.2
    snrs: tuple[float | None, ...] = (None, 1.0, 0.3, 0.1, 0.05)
    tomograms_per_snr: int = 20
    validation_tomograms_per_snr: int = 3
    tomogram_shape: tuple[int, int, int] = SAMPLE_SHAPE
    particles_per_tomogram: int = SAMPLE_PARTICLES
    label_radius: float = LABEL_RADIUS
    epochs: int = 0
    batch_size: int = 16
    learning_rate: float = 0.0
    seed: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.learning_rate < 0:
            raise RespondCamError(
                f"epochs and learning_rate must be positive (or 0 for the demo model's), got "
                f"{self.epochs} and {self.learning_rate}."
            )
        if not 0 <= self.dropout < 1:
            raise RespondCamError(f"dropout must be at least 0 and below 1, got {self.dropout}.")
        if self.architecture not in DEMO_RECIPES:
            trainable = ", ".join(repr(name) for name in DEMO_RECIPES)
            raise RespondCamError(
                f"Training makes the paper's classifiers ({trainable}), not "
                f"{self.architecture!r}; pick one of them (--architecture on the command "
                "line, architecture= in TrainingConfig); the demo U-Net trains with python -m "
                "napari_respond_cam.training.segmentation."
            )
        recipe = DEMO_RECIPES[self.architecture]
        # Frozen: the defaults are filled in once, here, so the record shows what was used.
        if not self.epochs:
            object.__setattr__(self, "epochs", recipe.epochs)
        if not self.learning_rate:
            object.__setattr__(self, "learning_rate", recipe.learning_rate)
        if self.seed is None:
            object.__setattr__(self, "seed", recipe.seed)

    @property
    def run_seed(self) -> int:
        """The seed the run uses: ``seed``, filled in when the config is made."""
        assert self.seed is not None, "__post_init__ fills the seed in"
        return self.seed


@dataclass
class TrainingHistory:
    """Loss, and validation accuracy per SNR after each epoch."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Tomograms:
    """Simulated tomograms to cut windows from: their volumes and particle tables."""

    volumes: list[np.ndarray]
    particles: list[ParticleTable]


@dataclass(frozen=True)
class Windows:
    """Where windows lie: the tomogram of each, its centre (ZYX) and its class."""

    tomogram: np.ndarray
    centres: np.ndarray
    labels: np.ndarray


def snr_name(snr: float | None) -> str:
    """``"inf"`` for no noise, else the SNR as written."""
    return "inf" if snr is None else f"{snr:g}"


def demo_class_names() -> tuple[str, ...]:
    """The demo classifiers' classes: the five complexes, then the background."""
    return (*class_names(), BACKGROUND_CLASS)


def simulate_tomograms(config: TrainingConfig, snr: float | None, seeds) -> Tomograms:
    """Sample-like tomograms at one SNR, one per seed, with a margin of half a window."""
    volumes, particles = [], []
    for seed in seeds:
        tomogram = simulate_tomogram(
            config.tomogram_shape, config.particles_per_tomogram, snr=snr, seed=int(seed),
            margin=config.input_size // 2,
        )  # fmt: skip
        volumes.append(tomogram.volume)
        particles.append(tomogram.particles)
    return Tomograms(volumes, particles)


def draw_windows(
    tomograms: Tomograms, config: TrainingConfig, rng: np.random.Generator | None
) -> Windows:
    """One window per particle and half as many random windows, labelled.

    With ``rng`` the particle windows are moved by random offsets within the label
    radius; without, they are centred on their particles and the random windows come
    from a fixed stream (validation).
    """
    n_classes = len(class_names())
    draw = rng if rng is not None else np.random.default_rng(0)
    parts = []
    for index, (volume, particles) in enumerate(
        zip(tomograms.volumes, tomograms.particles, strict=True)
    ):
        shape = volume.shape
        near = particles.positions
        if rng is not None:
            near = centres_near(near, shape, config.input_size, config.label_radius, rng)
        anywhere = random_centres(shape, config.input_size, len(near) // 2, draw)
        centres = np.concatenate([near, anywhere])
        labels = label_windows(particles, centres, n_classes, config.label_radius)
        parts.append((np.full(len(centres), index), centres, labels))
    return Windows(*(np.concatenate([part[i] for part in parts]) for i in range(3)))


def window_batch(
    tomograms: Tomograms,
    windows: Windows,
    rows: np.ndarray,
    size: int,
    rng: np.random.Generator | None = None,
) -> torch.Tensor:
    """The network's input ``(n, 1, size, size, size)`` for some rows of ``windows``.

    With ``rng`` each window is turned by a random half turn about Z, Y or X (or not).
    """
    cubes = np.empty((len(rows), size, size, size), dtype=np.float32)
    for i, row in enumerate(rows):
        volume = tomograms.volumes[windows.tomogram[row]]
        cubes[i] = cut_windows(volume, windows.centres[row : row + 1], size)[0]
        if rng is not None:
            turn = int(rng.integers(4))
            if turn:
                cubes[i] = np.flip(cubes[i], axis=[(1, 2), (0, 2), (0, 1)][turn - 1])
    return PREPROCESSING.apply(torch.from_numpy(cubes[:, None]))


def build_model(config: TrainingConfig, names: Sequence[str]) -> nn.Module:
    """A fresh network of the configured architecture, carrying its classes' metadata,
    with dropout masks that do not depend on the CPU."""
    torch.manual_seed(config.run_seed)
    model = architecture(config.architecture).build(
        num_classes=len(names),
        input_size=config.input_size,
        channels=config.channels,
        dense=config.dense,
        dropout=config.dropout,
    )
    set_model_attribute(model, "class_names", tuple(names))
    set_model_attribute(model, "background_class", names.index(BACKGROUND_CLASS))
    return portable_dropout(model)


def accuracy(
    model: nn.Module, tomograms: Tomograms, windows: Windows, config: TrainingConfig
) -> float:
    """The fraction of windows classified correctly (eval mode, batches of 64)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(windows.labels), 64):
            rows = np.arange(start, min(start + 64, len(windows.labels)))
            inputs = window_batch(tomograms, windows, rows, config.input_size)
            predicted = model(inputs.to(config.device)).argmax(1).cpu().numpy()
            correct += int((predicted == windows.labels[rows]).sum())
    return correct / len(windows.labels)


def train(
    config: TrainingConfig = TrainingConfig(),
    log: Callable[[str], None] = print,
    after_epoch: Callable[[nn.Module, TrainingHistory], None] | None = None,
) -> tuple[nn.Module, TrainingHistory]:
    """Train a network on windows of simulated tomograms, logging accuracy per SNR.

    Validation windows are centred on the particles of other tomograms (and half as many
    random windows) at each SNR of ``config.snrs``.

    Parameters
    ----------
    config : TrainingConfig
    log : callable
        Receives one line when the tomograms are ready, one naming the CPU kernels (see
        :mod:`.reproducible_kernels`) and one per epoch.
    after_epoch : callable, optional
        Called with the model (in eval mode) and the history after each epoch.

    Returns
    -------
    (torch.nn.Module, TrainingHistory)
    """
    start = time.perf_counter()
    parts = [simulate_tomograms(config, snr, _seeds(config, i, config.tomograms_per_snr))
             for i, snr in enumerate(config.snrs)]  # fmt: skip
    training = Tomograms(
        [v for part in parts for v in part.volumes], [t for part in parts for t in part.particles]
    )
    validation = {}
    for i, snr in enumerate(config.snrs):
        seeds = _seeds(config, len(config.snrs) + i, config.validation_tomograms_per_snr)
        tomograms = simulate_tomograms(config, snr, seeds)
        validation[snr_name(snr)] = (tomograms, draw_windows(tomograms, config, None))
    log(f"simulated {len(training.volumes)} training and "
        f"{len(config.snrs) * config.validation_tomograms_per_snr} validation tomograms "
        f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
    log(kernel_note(config.device))
    model = build_model(config, demo_class_names()).to(config.device)
    # Channels last: PyTorch's 3-D convolutions on the CPU train CNN-1 2.4 times faster
    # in that layout (batches of 16: 0.42 s a step against 1.0 s, one thread). torch's
    # stubs leave memory_format out of Module.to.
    model.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
    optimiser = torch.optim.Adam(step_groups(model), lr=config.learning_rate)
    rng = np.random.default_rng(config.run_seed)
    history = TrainingHistory()
    for epoch in range(config.epochs):
        start = time.perf_counter()
        loss = _one_epoch(model, optimiser, training, config, rng, epoch)
        scores = {k: accuracy(model, t, w, config) for k, (t, w) in validation.items()}
        history.loss.append(loss)
        history.accuracy.append(scores)
        shown = "  ".join(f"SNR {k}: {v:.3f}" for k, v in scores.items())
        log(f"epoch {epoch + 1}/{config.epochs}  loss {loss:.4f}  accuracy {shown}  "
            f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
        if after_epoch is not None:
            after_epoch(model.eval(), history)
    return model.eval(), history


def _seeds(config: TrainingConfig, stream: int, n: int) -> np.ndarray:
    """Tomogram seeds of one stream: apart from the sample's (0) and from other streams."""
    return np.random.SeedSequence([config.run_seed, stream]).generate_state(n).astype(np.int64)


def _one_epoch(
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    tomograms: Tomograms,
    config: TrainingConfig,
    rng: np.random.Generator,
    epoch: int,
) -> float:
    model.train()
    windows = draw_windows(tomograms, config, rng)
    order = rng.permutation(len(windows.labels))
    total = 0.0
    for start in range(0, len(order), config.batch_size):
        progress = (epoch + start / len(order)) / config.epochs
        set_step_sizes(optimiser, config.learning_rate, progress, config.epochs)
        rows = order[start : start + config.batch_size]
        inputs = window_batch(tomograms, windows, rows, config.input_size, rng)
        labels = torch.from_numpy(windows.labels[rows])
        optimiser.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(
            model(inputs.to(config.device)), labels.to(config.device)
        )
        loss.backward()
        optimiser.step()
        total += loss.item() * len(rows)
    return total / len(order)


def train_and_save(
    config: TrainingConfig, out: Path, log: Callable[[str], None] = print
) -> nn.Module:
    """Train, saving a checkpoint ``load_model`` reads after every epoch, with how it was
    trained: a run stopped early leaves the last epoch's model, its record giving the
    epochs done (the step size's schedule stays that of the epochs asked for).
    """
    from ..models.model_files import save_model

    def save(model: nn.Module, history: TrainingHistory) -> None:
        epochs = len(history.accuracy)
        record = {
            "config": {**asdict(config), "epochs": epochs},
            "final_accuracy": history.accuracy[-1],
            "environment": kernel_record(config.device),
        }
        checkpoint = copy.deepcopy(model).cpu()
        set_model_attribute(checkpoint, "training_record", record)
        set_model_attribute(checkpoint, "preprocessing", PREPROCESSING)
        set_model_attribute(checkpoint, "voxel_size_a", TEMPLATE_VOXEL_SIZE_A)
        save_model(checkpoint, out)
        log(f"saved {out} (epoch {epochs})")

    model, _ = train(config, log, after_epoch=save)
    return model
