"""Measure the demo classifiers against issue 12's targets.

For the shipped ``cnn1-demo`` and ``cnn2-demo``, on the sample tomogram napari opens and on
a fresh tomogram like it (seed ``FRESH_SEED``), at the shipped SNR:

- the particles named: the predicted class of a 40^3 window centred on each particle, and
  what each class is taken for;
- whole-tomogram maps: for each class, ``explain_volume(target=class)`` at the default
  layer, with Respond-CAM and Grad-CAM, as napari and the command line make it (only the
  windows the model calls the class) and in every window (``where_predicted=False``),
  and the share of the map's positive mass inside that class's particles (ground truth
  dilated by 2 voxels) over their share of the volume (1 = chance; the target is at
  least 5, and more than Grad-CAM); the same for the default Explain (each window its
  predicted class, background windows skipped) over all particles;

the same two numbers on more fresh tomograms (seeds from ``MORE_SEEDS_FROM``), to show how
often a target holds on a tomogram no one chose; and accuracy against SNR (inf, 1, 0.3, 0.1,
0.05) on windows of fresh tomograms, centred on particles, with a background share, with the
SNR each class's particle would have imaged alone in a 40^3 box at the sample's noise (the
paper's convention).

Usage: ``python docs/demo_targets.py [--windows 300] [--more 6] [--out
docs/paper_measurements.md] [--model CNN-2=other.pt]``; ``--model`` measures another
checkpoint in a model's place (one trained with another ``--seed``, say), to see how far
the numbers move between runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import binary_dilation

from napari_respond_cam import explain, explain_volume, load_model, target_layers
from napari_respond_cam.engine.options import METHOD_LABELS
from napari_respond_cam.napari_plugin.sample_data import simulated_tomogram
from napari_respond_cam.paper_metrics import enrichment, measured_by, write_section
from napari_respond_cam.simulation import (
    SAMPLE_MARGIN,
    SAMPLE_PARTICLES,
    SAMPLE_SEED,
    SAMPLE_SHAPE,
    SAMPLE_SNR,
    simulate_subtomograms,
    simulate_tomogram,
)
from napari_respond_cam.simulation.particle_snr import particle_snrs
from napari_respond_cam.simulation.windows import cut_windows

MODELS = {"CNN-1": "cnn1-demo", "CNN-2": "cnn2-demo"}
FRESH_SEED = 2026
#: The more fresh tomograms take seeds from here on, apart from the training's streams.
MORE_SEEDS_FROM = 3001
SNRS = {"inf": None, "1": 1.0, "0.3": 0.3, "0.1": 0.1, "0.05": 0.05}
SNR_SEED = 77
DILATION = 2
# Baseline first, as in the paper's tables.
METHODS = ("grad", "respond")
#: Which windows a class's map holds: as napari and the command line make it, then all.
WINDOWS = {"called the class": True, "every window": False}


@dataclass(frozen=True)
class Scene:
    """A tomogram with its ground truth: labels (class + 1) and particle centres."""

    name: str
    volume: np.ndarray
    labels: np.ndarray
    positions: np.ndarray
    class_indices: np.ndarray


def fresh_scene(seed: int) -> Scene:
    """A fresh tomogram like the sample, of another seed."""
    fresh = simulate_tomogram(
        SAMPLE_SHAPE, SAMPLE_PARTICLES, snr=SAMPLE_SNR, seed=seed, margin=SAMPLE_MARGIN
    )
    return Scene(
        f"fresh (seed {seed})",
        fresh.volume,
        fresh.labels,
        fresh.particles.positions,
        fresh.particles.class_indices,
    )


def scenes() -> list[Scene]:
    """The sample tomogram, exactly as napari opens it, and a fresh one like it."""
    (volume, _, _), (labels, meta, _) = simulated_tomogram()
    particles = meta["metadata"]["particles"]
    sample = Scene(
        "sample", volume, labels,
        np.array(particles["positions_zyx"]), np.array(particles["class_index"]),
    )  # fmt: skip
    return [sample, fresh_scene(FRESH_SEED)]


def predicted_classes(model, scene: Scene) -> np.ndarray:
    """The class the model gives the window centred on each particle."""
    size = model.input_shape[-1]
    windows = cut_windows(scene.volume, scene.positions, size)[:, None]
    return explain(model, windows, target_layers(model)[-1], batch_size=16).targets


def dilated(region: np.ndarray) -> np.ndarray:
    """``region`` grown by ``DILATION`` voxels with a ball, as the ground truth is measured."""
    grid = np.indices((2 * DILATION + 1,) * region.ndim) - DILATION
    return binary_dilation(region, structure=np.linalg.norm(grid, axis=0) <= DILATION)


def map_enrichments(model, scene: Scene, method: str, where_predicted: bool) -> dict[str, float]:
    """Positive map mass inside each class's particles (dilated) over their volume share."""
    layer = target_layers(model)[-1]
    ratios = {}
    for index in np.unique(scene.class_indices):
        region = dilated(scene.labels == index + 1)
        heatmap = explain_volume(
            model, scene.volume, layer, target=int(index), method=method,
            where_predicted=where_predicted,
        )  # fmt: skip
        ratios[model.class_names[index]] = enrichment(heatmap, region)
    return ratios


def default_enrichment(model, scene: Scene, method: str) -> float:
    """The same for the default Explain (each window its predicted class, background
    windows skipped) over all particles."""
    layer = target_layers(model)[-1]
    default = explain_volume(
        model, scene.volume, layer, method=method, background_class=model.background_class
    )
    return enrichment(default, dilated(scene.labels > 0))


def snr_accuracy(model, data) -> tuple[float, float]:
    """Accuracy on particle windows, and on background windows."""
    result = explain(model, data.volumes[:, None], target_layers(model)[-1], batch_size=16)
    right = result.targets == data.labels
    background = data.labels == model.background_class
    return float(right[~background].mean()), float(right[background].mean())


def more_tomograms(models: dict, n: int) -> dict:
    """On ``n`` more fresh tomograms, per model: the particles named in each, and for each
    class its called-the-class map's enrichment with each method in each tomogram."""
    found: dict = {}
    for seed in range(MORE_SEEDS_FROM, MORE_SEEDS_FROM + n):
        scene = fresh_scene(seed)
        for label, model in models.items():
            named = found.setdefault(label, {"named": [], "maps": []})
            named["named"].append(predicted_classes(model, scene) == scene.class_indices)
            named["maps"].append({m: map_enrichments(model, scene, m, True) for m in METHODS})
        _log(f"the fresh tomogram of seed {seed}")
    return found


def measure(n_windows: int, named: dict[str, str] = MODELS, n_more: int = 0) -> dict:
    """Every number of the tables, for the models ``named`` (label: name or file), with
    ``n_more`` more fresh tomograms."""
    torch.manual_seed(0)
    models = {label: load_model(name) for label, name in named.items()}
    found = {"named": {}, "confusion": {}, "maps": {}, "snr": {}}
    for scene in scenes():
        for label, model in models.items():
            predicted = predicted_classes(model, scene)
            found["named"][label, scene.name] = predicted == scene.class_indices
            confusion = found["confusion"].setdefault(
                label, np.zeros((len(model.class_names),) * 2, dtype=np.int64)
            )
            np.add.at(confusion, (scene.class_indices, predicted), 1)
            for windows, where_predicted in WINDOWS.items():
                for method in METHODS:
                    ratios = map_enrichments(model, scene, method, where_predicted)
                    if where_predicted:  # the default Explain is the same either way: once
                        ratios["default"] = default_enrichment(model, scene, method)
                    found["maps"][label, scene.name, windows, method] = ratios
                    _log(f"maps of {label} on the {scene.name} tomogram with {method}, {windows}")
    for snr_label, snr in SNRS.items():
        data = simulate_subtomograms(n_windows, snr=snr, include_background=True, seed=SNR_SEED)
        for label, model in models.items():
            found["snr"][label, snr_label] = snr_accuracy(model, data)
        _log(f"accuracy at SNR {snr_label}")
    found["particle_snr"] = particle_snrs(
        SAMPLE_SNR, SAMPLE_SHAPE, SAMPLE_PARTICLES, seed=SAMPLE_SEED, margin=SAMPLE_MARGIN
    )
    found["class_names"] = next(iter(models.values())).class_names
    found["more"] = more_tomograms(models, n_more)
    return found


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def tables(found: dict) -> str:
    """The measurements as four Markdown tables."""
    lines = [
        f"Particles named at SNR {SAMPLE_SNR:g} (40^3 windows centred on each particle):",
        "",
        "| model | tomogram | named | share |",
        "| --- | --- | --- | --- |",
    ]
    for (model, scene), named in found["named"].items():
        lines.append(f"| {model} | {scene} | {named.sum()} of {len(named)} | {named.mean():.0%} |")
    classes = [name for name in found["class_names"][:-1]]
    lines += [
        "",
        "What each model calls the particles of both tomograms together (rows: the true "
        "class; columns: the class named):",
        "",
        "| model | particle | " + " | ".join(found["class_names"]) + " |",
        "|" + " --- |" * (len(found["class_names"]) + 2),
    ]
    for model, confusion in found["confusion"].items():
        for name, row in zip(classes, confusion, strict=False):
            lines.append(f"| {model} | {name} | " + " | ".join(map(str, row)) + " |")
    lines += [
        "",
        "Whole-tomogram maps: positive mass inside the class's particles (dilated by "
        f"{DILATION} voxels) over their share of the volume (1 = chance). Each class's map "
        "holds the windows the model calls the class (as napari and the command line make "
        "it), or every window (`where_predicted=False`, `--every-window`); *default* is the "
        "predicted-class map with background windows skipped, over all particles:",
        "",
        "| model | tomogram | windows | method | " + " | ".join(classes) + " | default |",
        "|" + " --- |" * (len(classes) + 5),
    ]
    for (model, scene, windows, method), ratios in found["maps"].items():
        cells = " | ".join(f"{ratios.get(name, float('nan')):.1f}" for name in classes)
        default = f"{ratios['default']:.1f}" if "default" in ratios else "–"
        lines.append(
            f"| {model} | {scene} | {windows} | {METHOD_LABELS[method]} | {cells} | {default} |"
        )
    lines += [
        "",
        "Accuracy against the SNR of the tilt series (windows centred on particles / "
        "background windows):",
        "",
        "| model | " + " | ".join(f"SNR {s}" for s in SNRS) + " |",
        "|" + " --- |" * (len(SNRS) + 1),
    ]
    for model in dict.fromkeys(label for label, _ in found["snr"]):
        cells = " | ".join("{:.2f} / {:.2f}".format(*found["snr"][model, snr]) for snr in SNRS)
        lines.append(f"| {model} | {cells} |")
    lines += more_tomograms_table(found["more"], classes)
    per_particle = found["particle_snr"]
    lines += [
        "",
        f"At the sample's noise (SNR {SAMPLE_SNR:g} over its tilt series), a particle imaged "
        "alone in a 40^3 box, as the paper's subtomograms were, has SNR "
        + ", ".join(f"{per_particle[name]:.2g} ({name})" for name in classes)
        + "; so in a tomogram as crowded as the sample, SNR s over the tilt series is "
        f"{min(per_particle.values()) / SAMPLE_SNR:.2f} s to "
        f"{max(per_particle.values()) / SAMPLE_SNR:.2f} s per particle.",
    ]
    return "\n".join(lines)


def more_tomograms_table(more: dict, classes: list[str]) -> list[str]:
    """The lines of the more-tomograms table (none without them)."""
    if not more:
        return []
    n = len(next(iter(more.values()))["named"])
    first, last = MORE_SEEDS_FROM, MORE_SEEDS_FROM + n - 1
    lines = [
        "",
        f"On {n} more fresh tomograms like the sample (seeds {first} to {last}), at SNR "
        f"{SAMPLE_SNR:g}: the particles named in all of them (and in the one where the "
        "model named fewest), and for each class, in how many tomograms its Respond-CAM "
        "map (from the windows called the class) puts more positive mass on the class's "
        "particles than Grad-CAM's, and the least Respond-CAM reaches (times the class's "
        "share):",
        "",
        "| model | named | fewest | " + " | ".join(classes) + " |",
        "|" + " --- |" * (len(classes) + 3),
    ]
    for label, found in more.items():
        named = found["named"]
        total = sum(int(k.sum()) for k in named)
        cells = []
        for name in classes:
            pairs = [
                (m["respond"][name], m["grad"][name]) for m in found["maps"] if name in m["respond"]
            ]
            wins = sum(respond > grad for respond, grad in pairs)
            least = min(respond for respond, _ in pairs)
            cells.append(f"{wins} of {len(pairs)}, at least {least:.1f}")
        fewest = min(named, key=lambda k: k.sum())
        lines.append(
            f"| {label} | {total} of {sum(map(len, named))} | {fewest.sum()} of {len(fewest)} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=300, help="windows per SNR")
    parser.add_argument(
        "--more", type=int, default=6, help="more fresh tomograms to measure (0: none)"
    )
    parser.add_argument("--out", type=Path, help="write the tables into this Markdown file")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="LABEL=FILE",
        help=f"measure this checkpoint as {' or '.join(MODELS)} instead of the demo model",
    )
    args = parser.parse_args(argv)
    named = dict(MODELS)
    for choice in args.model:
        label, _, file = choice.partition("=")
        if label not in MODELS or not file:
            parser.error(
                f"--model takes LABEL=FILE, LABEL being {' or '.join(MODELS)}; got {choice!r}"
            )
        if named[label] != MODELS[label]:
            parser.error(f"--model {label}= is given twice; give each label once")
        named[label] = file
    start = time.perf_counter()
    if args.more < 0:
        parser.error(f"--more takes a number of tomograms, 0 or more; got {args.more}")
    result = tables(measure(args.windows, named, args.more))
    print(result)
    if args.out:
        chosen = "".join(f" --model {choice}" for choice in args.model)
        command = (
            f"python docs/demo_targets.py --windows {args.windows} --more {args.more} "
            f"--out {args.out}{chosen}"
        )
        header = measured_by(command, time.perf_counter() - start)
        write_section(args.out, "demo_targets", header + result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
