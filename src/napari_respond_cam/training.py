"""Training the paper's networks on simulated subtomograms (the demo model is made here).

Run ``respond-cam train --out model.pt``; with the defaults (and ``--threads 1``) it
reproduces the shipped demo model, seed for seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .engine.preprocessing import WINDOW_ZSCORE, Preprocessing
from .models.architectures import architecture
from .models.model_metadata import set_model_attribute
from .simulation import TEMPLATE_VOXEL_SIZE_A, simulate_subtomograms


@dataclass(frozen=True)
class TrainingConfig:
    """What to train on and how; the defaults make the shipped demo model.

    ``snrs`` lists the noise levels mixed in equal parts in the training set
    (``None`` = no noise); ``channels``/``dense`` are narrower than the paper's
    (32, 32, 64, 64)/(512, 512) so the weights stay a few MB.
    """

    architecture: str = "cnn1"
    input_size: int = 40
    channels: tuple[int, ...] = (8, 8, 16, 16)
    dense: tuple[int, ...] = (64, 64)
    snrs: tuple[float | None, ...] = (None, 1.0, 0.3, 0.1)
    include_empty: bool = True
    n_train: int = 2400
    n_validation: int = 300
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    device: str = "cpu"


@dataclass
class TrainingHistory:
    """Loss and validation accuracy per SNR after each epoch."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[dict[str, float]] = field(default_factory=list)


def snr_name(snr: float | None) -> str:
    """``"inf"`` for no noise, else the SNR as written."""
    return "inf" if snr is None else f"{snr:g}"


def simulated_dataset(config: TrainingConfig, n: int, seed: int, snr: float | None):
    """Subtomograms at one SNR as tensors ``(n, 1, S, S, S)`` and labels, plus class names."""
    data = simulate_subtomograms(
        n, size=config.input_size, snr=snr, include_empty=config.include_empty, seed=seed
    )
    return torch.from_numpy(data.volumes[:, None]), torch.from_numpy(data.labels), data.class_names


def build_model(config: TrainingConfig, class_names: Sequence[str]) -> nn.Module:
    """A fresh network of the configured architecture, carrying its class names."""
    torch.manual_seed(config.seed)
    model = architecture(config.architecture).build(
        num_classes=len(class_names),
        input_size=config.input_size,
        channels=config.channels,
        dense=config.dense,
    )
    set_model_attribute(model, "class_names", tuple(class_names))
    return model


def accuracy(model: nn.Module, volumes: torch.Tensor, labels: torch.Tensor, device) -> float:
    """The fraction of samples classified correctly (eval mode, batches of 64)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), 64):
            logits = model(volumes[start : start + 64].to(device))
            correct += int((logits.argmax(1).cpu() == labels[start : start + 64]).sum())
    return correct / len(labels)


def train(
    config: TrainingConfig = TrainingConfig(), log: Callable[[str], None] = print
) -> tuple[nn.Module, TrainingHistory]:
    """Train a network on simulated subtomograms, logging accuracy per SNR each epoch.

    Parameters
    ----------
    config : TrainingConfig
    log : callable
        Receives one line per epoch.

    Returns
    -------
    (torch.nn.Module, TrainingHistory)
    """
    per_snr = config.n_train // len(config.snrs)
    parts = [simulated_dataset(config, per_snr, config.seed + 1 + i, snr)
             for i, snr in enumerate(config.snrs)]  # fmt: skip
    volumes = torch.cat([p[0] for p in parts])
    labels = torch.cat([p[1] for p in parts])
    class_names = parts[0][2]
    validation = {
        snr_name(snr): simulated_dataset(config, config.n_validation, 10_000 + i, snr)[:2]
        for i, snr in enumerate(config.snrs)
    }
    model = build_model(config, class_names).to(config.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    shuffle = torch.Generator().manual_seed(config.seed)
    history = TrainingHistory()
    for epoch in range(config.epochs):
        start = time.perf_counter()
        loss = _one_epoch(model, optimiser, volumes, labels, config, shuffle)
        scores = {k: accuracy(model, v, y, config.device) for k, (v, y) in validation.items()}
        history.loss.append(loss)
        history.accuracy.append(scores)
        shown = "  ".join(f"SNR {k}: {v:.3f}" for k, v in scores.items())
        log(f"epoch {epoch + 1}/{config.epochs}  loss {loss:.4f}  accuracy {shown}  "
            f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
    return model.eval(), history


def _one_epoch(model, optimiser, volumes, labels, config, shuffle) -> float:
    model.train()
    order = torch.randperm(len(labels), generator=shuffle)
    total = 0.0
    for start in range(0, len(order), config.batch_size):
        batch = order[start : start + config.batch_size]
        optimiser.zero_grad(set_to_none=True)
        logits = model(volumes[batch].to(config.device))
        loss = nn.functional.cross_entropy(logits, labels[batch].to(config.device))
        loss.backward()
        optimiser.step()
        total += loss.item() * len(batch)
    return total / len(order)


def train_and_save(
    config: TrainingConfig, out: Path, log: Callable[[str], None] = print
) -> nn.Module:
    """Train, then save a checkpoint ``load_model`` reads, with how it was trained."""
    from .models.model_files import save_model

    model, history = train(config, log)
    record = {"config": asdict(config), "final_accuracy": history.accuracy[-1]}
    set_model_attribute(model, "training_record", record)
    # The subtomograms it learnt from were normalised per cube, at the templates' voxels.
    set_model_attribute(model, "preprocessing", Preprocessing(WINDOW_ZSCORE))
    set_model_attribute(model, "voxel_size_a", TEMPLATE_VOXEL_SIZE_A)
    save_model(model.cpu(), out)
    log(f"saved {out}")
    return model
