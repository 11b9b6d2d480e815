"""Measure the demo U-Net: Dice per class, and where its whole-tomogram maps lie.

On a tomogram simulated like napari's sample (its shape, particles, SNR and margin) with
a seed that training did not use (``FRESH_SEED``; training used seeds 1 to 12, its
validation 10 000):

- Dice per class of the argmax of ``predict_volume`` against the ground-truth labels;
- for each complex ``c``, ``explain_volume(target=region_target(c, predicted == c))`` at
  ``--layer`` (``dec1`` by default, the last block before the 1x1x1 head), with Respond-CAM and with
  Grad-CAM: the share of the map's positive mass inside class ``c``'s true particles,
  beside the share of the region's own voxels inside them (what a map spread evenly over
  the region would score) and the particles' share of the volume (chance), and the
  sum-to-score check: the map's sum against ``Y`` minus the summed bias.

Usage: ``python docs/segmentation_demo.py [--model unet-demo] [--layer dec1] [--window 80]
[--stride 40] [--out docs/segmentation_demo.md]``; each model and layer gets its own
section of the Markdown file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from napari_respond_cam import explain_volume, load_model, predict_volume, region_target
from napari_respond_cam.engine.options import METHOD_LABELS
from napari_respond_cam.paper_metrics import positive_mass_inside, write_section
from napari_respond_cam.simulation import (
    SAMPLE_MARGIN,
    SAMPLE_PARTICLES,
    SAMPLE_SHAPE,
    SAMPLE_SNR,
    simulate_tomogram,
)
from napari_respond_cam.training.segmentation import dice_scores

FRESH_SEED = 2026
#: The last block before the 1x1x1 head: everything after it is linear.
DEFAULT_LAYER = "dec1"
METHODS = ("respond", "grad")


def share_inside(heatmap: np.ndarray, particles: np.ndarray) -> float:
    """The share of the map's positive mass on ``particles``."""
    return float(positive_mass_inside(heatmap[None], particles[None])[0])


def signed_share_inside(heatmap: np.ndarray, particles: np.ndarray) -> float:
    """The share of the map's sum (the explained score, for Respond-CAM) on ``particles``."""
    return float(heatmap[particles].sum(dtype=np.float64) / heatmap.sum(dtype=np.float64))


def measure(model_source: str, layer: str, window: int | None, stride: int | None) -> str:
    """The Markdown section: how it was measured, Dice per class, and the maps' shares.

    Dice is measured on the model's own windows (its input size, half-window stride),
    as the widget predicts by default; the maps on ``window`` and ``stride`` (larger,
    fewer windows cost less on a CPU; the U-Net takes any size divisible by 4).
    """
    model = load_model(model_source)
    tomogram = simulate_tomogram(
        SAMPLE_SHAPE, SAMPLE_PARTICLES, snr=SAMPLE_SNR, seed=FRESH_SEED, margin=SAMPLE_MARGIN
    )
    start = time.perf_counter()
    predicted = predict_volume(model, tomogram.volume).argmax(axis=0)
    predicting = time.perf_counter() - start
    start = time.perf_counter()
    rows = map_rows(model, tomogram.volume, tomogram.labels, predicted, layer, window, stride)
    explaining = time.perf_counter() - start
    columns = ["Y", "β / Y"]
    columns += [f"{METHOD_LABELS[m]} inside" for m in METHODS]
    columns += [f"{METHOD_LABELS[m]} signed sum inside" for m in METHODS]
    columns += [f"{METHOD_LABELS[m]} sum / (Y - bias)" for m in METHODS]
    return "\n".join(
        [
            f"Model `{model_source}`; tomogram {SAMPLE_SHAPE} voxels, {SAMPLE_PARTICLES} "
            f"particles, SNR {SAMPLE_SNR}, seed {FRESH_SEED}; prediction on windows "
            f"{model.input_shape[1:]}, stride half a window ({predicting:.0f} s).",
            "",
            *dice_rows(model.class_names, tomogram.labels, predicted),
            "",
            f"Maps of each complex's predicted region at `{layer}` (windows "
            f"{window or 'of the input size'}, stride {stride or 'half a window'}; "
            f"{explaining:.0f} s): share of the positive mass inside that complex's "
            "true particles, and of the map's signed sum.",
            "",
            "| class | particles' share of the volume | region's voxels inside | "
            + " | ".join(columns)
            + " |",
            "|---|---:|---:|" + "---:|" * len(columns),
            *rows,
        ]
    )


def dice_rows(names: tuple[str, ...], truth: np.ndarray, predicted: np.ndarray) -> list[str]:
    """A Markdown table of the voxels of each class, true and predicted, and their Dice."""
    dice = dice_scores(predicted, truth, len(names))  # label k + 1 = output channel k + 1
    rows = ["| class | voxels (truth) | voxels (predicted) | Dice |", "|---|---:|---:|---:|"]
    for k, name in enumerate(names):
        counts = f"{int((truth == k).sum())} | {int((predicted == k).sum())}"
        rows.append(f"| {name} | {counts} | {dice[k]:.3f} |")
    return rows


def map_rows(model, volume, truth, predicted, layer, window, stride) -> list[str]:
    """Per complex, the maps' shares inside its particles and their sum-to-score ratio."""
    rows = []
    for k in range(1, len(model.class_names)):
        region, particles = predicted == k, truth == k
        name = model.class_names[k]
        if not region.any():
            rows.append(f"| {name} | {particles.mean():.4f} | (no voxel predicted) | |")
            continue
        shares, signed, checks, scores = [], [], [], []
        for method in METHODS:
            heatmap, windows = explain_volume(
                model,
                volume,
                layer,
                target=region_target(k, region),
                method=method,
                window=window,
                stride=stride,
                return_windows=True,
            )
            shares.append(f"{share_inside(heatmap, particles):.3f}")
            signed.append(f"{signed_share_inside(heatmap, particles):.3f}")
            expected = windows.total_score - windows.total_bias
            checks.append(f"{heatmap.sum(dtype=np.float64) / expected:.4f}")
            # The bias does not depend on the method: the score minus sum(A * G).
            scores = [
                f"{windows.total_score:.4g}",
                f"{windows.total_bias / windows.total_score:.3f}",
            ]
        inside = f"{particles.mean():.4f} | {particles[region].mean():.3f}"
        cells = scores + shares + signed + checks
        rows.append(f"| {name} | {inside} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="unet-demo", help="a model name or file")
    parser.add_argument("--layer", default=DEFAULT_LAYER, help="the maps' target layer")
    parser.add_argument("--window", type=int, default=None, help="maps' window side")
    parser.add_argument("--stride", type=int, default=None, help="maps' window stride")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("segmentation_demo.md")
    )
    args = parser.parse_args()
    section = measure(args.model, args.layer, args.window, args.stride)
    print(section)
    write_section(args.out, f"{args.model}-{args.layer}", section)


if __name__ == "__main__":
    main()
