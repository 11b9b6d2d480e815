"""The paper's Figure 4: Grad-CAM and Respond-CAM at every layer of CNN-1.

For one simulated subtomogram of each particle class, the shipped ``cnn1-demo`` model
explains the true class at each of its spatial layers (``conv1`` ... ``maxpool2``, the
paper's layers) with one forward and one backward pass per method
(:func:`~napari_respond_cam.engine.explain_layers.explain_layers`). Each panel is the
central slice of a map brought to the input grid, in a diverging colour map centred on
zero (red: evidence for the class, blue: against), scaled to the map's largest absolute
value over the whole volume; the black outline is the particle's ground truth. Under
each panel, the map's sum; Respond-CAM's equals the score minus the layer's bias.

Usage: ``python docs/figure4.py [--snr 0.5] [--seed 7] [--out docs/figure4.png]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from napari_respond_cam import load_model, target_layers
from napari_respond_cam.engine.explain_layers import explain_layers
from napari_respond_cam.engine.explanation import Explanation
from napari_respond_cam.engine.options import METHOD_LABELS
from napari_respond_cam.simulation import class_names as simulated_classes
from napari_respond_cam.simulation import simulate_subtomograms

MODEL = "cnn1-demo"
# Baseline first, as in the paper's figures.
METHODS = ("grad", "respond")


def paper_layers(model: torch.nn.Module) -> list[str]:
    """The spatial layers the paper names: blocks, not the convolution and ReLU inside
    each ``convN`` (a Keras layer with ``activation="relu"`` is one layer)."""
    return [name for name in target_layers(model) if "." not in name]


def one_per_class(model: torch.nn.Module, snr: float | None, seed: int):
    """One simulated subtomogram of each particle class the model knows: the volumes
    ``(K, 1, *spatial)``, their masks and the model's index of each class."""
    particles = [name for name in model.class_names if name in simulated_classes()]
    samples = [simulate_subtomograms(1, classes=[name], snr=snr, seed=seed) for name in particles]
    volumes = np.stack([sample.volumes for sample in samples])
    masks = np.concatenate([sample.masks for sample in samples])
    return volumes, masks, np.array([model.class_names.index(name) for name in particles])


def draw_input(ax: plt.Axes, image: np.ndarray, outline: np.ndarray) -> None:
    ax.imshow(image, cmap="gray")
    ax.contour(outline, levels=[0.5], colors="black", linewidths=0.6)


def draw_map(ax: plt.Axes, result: Explanation, sample: int, z: int, outline: np.ndarray):
    """One map's slice ``z`` on a colour scale symmetric about zero; its sum beneath."""
    volume = result.heatmap[sample]
    scale = float(np.abs(volume).max()) or 1.0
    image = ax.imshow(volume[z], cmap="RdBu_r", vmin=-scale, vmax=scale)
    ax.contour(outline, levels=[0.5], colors="black", linewidths=0.6)
    target_part = result.scores[sample] - result.bias[sample]
    ax.set_xlabel(
        f"Σ {result.cam_sums[sample]:.3g} · y−β {target_part:.3g}\n|max| {scale:.2g}", fontsize=6
    )
    return image


def figure(snr: float | None, seed: int) -> plt.Figure:
    model = load_model(MODEL)
    layers = paper_layers(model)
    x, masks, labels = one_per_class(model, snr, seed)
    results = {m: explain_layers(model, x, layers, target=labels, method=m) for m in METHODS}
    probabilities = results[METHODS[0]][layers[0]].probabilities
    z = x.shape[2] // 2

    rows, columns = len(labels) * len(METHODS), len(layers) + 1
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.45 * columns + 1, 1.6 * rows + 1), layout="constrained"
    )
    for s, label in enumerate(labels):
        outline = masks[s, z]
        name, said = model.class_names[label], model.class_names[probabilities[s].argmax()]
        for m, method in enumerate(METHODS):
            row = axes[s * len(METHODS) + m]
            draw_input(row[0], x[s, 0, z], outline)
            row[0].set_ylabel(METHOD_LABELS[method], fontsize=8)
            for ax, layer in zip(row[1:], layers, strict=True):
                image = draw_map(ax, results[method][layer], s, z, outline)
        axes[s * len(METHODS), 0].set_title(
            f"input: {name}\nmodel: {said}, p={probabilities[s, label]:.2f}", fontsize=7
        )
    for ax, layer in zip(axes[0, 1:], layers, strict=True):
        shape = "×".join(str(n) for n in results[METHODS[0]][layer].cam.shape[1:])
        ax.set_title(f"{layer} ({shape})\n", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, shrink=0.2, ticks=[], label="against the class  ·  0  ·  for it")
    noise = "no noise" if snr is None else f"SNR {snr:g}"
    fig.suptitle(
        f"Grad-CAM and Respond-CAM of the true class at every spatial layer of CNN-1 "
        f"({MODEL})\none simulated subtomogram per class ({noise}, seed {seed}); input and "
        f"maps at the central slice z={z}, particle outlined",
        fontsize=9,
    )
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr", type=float, default=None, help="noise level; none by default")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated samples")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("figure4.png"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    figure(args.snr, args.seed).savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
