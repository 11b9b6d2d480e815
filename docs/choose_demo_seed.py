"""Choose a demo classifier's training run on validation tomograms no table uses.

The class maps of issue 12's targets depend on the training run as much as on the method
(``docs/paper_measurements.md``), so the shipped run is chosen among candidates trained
by the same recipe with other seeds, on fresh tomograms like the sample that no other
table measures (seeds from ``VALIDATION_SEEDS_FROM``, apart from the tables' 2026 and
3001 on): per candidate, the particles it names in windows centred on them, and for each
class present, whether the whole-tomogram Respond-CAM map of the windows called the
class puts more positive mass on the class's particles than Grad-CAM's (see
``demo_targets.map_enrichments``). The chosen run wins the most (class, tomogram)
cells; a tie goes to the larger least Respond/Grad ratio. The tables of
``demo_targets.py`` then report the chosen run on tomograms that played no part in the
choice.

Usage: ``python docs/choose_demo_seed.py --label CNN-2 --candidate "seed 0=cnn2-demo"
--candidate "seed 1=cnn2_seed1.pt" ... [--tomograms 4] [--out docs/paper_measurements.md]``,
each candidate made by ``respond-cam train --threads 2 --architecture cnn2 --seed N --out
cnn2_seedN.pt``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from demo_targets import MODELS, fresh_scene, map_enrichments, predicted_classes

from napari_respond_cam import RespondCamError, load_model
from napari_respond_cam.paper_metrics import measured_by, write_section

#: The validation tomograms take seeds from here on, apart from every table's.
VALIDATION_SEEDS_FROM = 5001


@dataclass(frozen=True)
class Candidate:
    """One training run's numbers over the validation tomograms."""

    name: str
    named: int
    particles: int
    #: (Respond-CAM, Grad-CAM) enrichment of each (tomogram, class) cell.
    cells: tuple[tuple[float, float], ...]

    @property
    def wins(self) -> int:
        """Cells where Respond-CAM leads (a map with no positive mass, nan, leads nowhere)."""
        return sum(bool(respond > grad) for respond, grad in self.cells)

    @property
    def ratios(self) -> list[float]:
        """Respond-CAM's enrichment over Grad-CAM's per cell: 0 where Respond-CAM's map has
        no positive mass, infinite where only Grad-CAM's has none."""
        return [_ratio(respond, grad) for respond, grad in self.cells]

    @property
    def least_ratio(self) -> float:
        return min(self.ratios)

    @property
    def geometric_mean_ratio(self) -> float:
        """The geometric mean of the ratios that are neither 0 nor infinite."""
        finite = [r for r in self.ratios if 0 < r < np.inf]
        return float(np.exp(np.mean(np.log(finite)))) if finite else float("nan")


def _ratio(respond: float, grad: float) -> float:
    if not respond > 0:
        return 0.0
    return respond / grad if grad > 0 else float("inf")


def measure(name: str, model, seeds: range) -> Candidate:
    """``model``'s particles named and class-map cells on the tomograms of ``seeds``."""
    named = particles = 0
    cells = []
    for seed in seeds:
        scene = fresh_scene(seed)
        named += int((predicted_classes(model, scene) == scene.class_indices).sum())
        particles += len(scene.class_indices)
        respond = map_enrichments(model, scene, "respond", True)
        grad = map_enrichments(model, scene, "grad", True)
        cells += [(respond[c], grad[c]) for c in respond]
        print(f"{name}: the fresh tomogram of seed {seed}", flush=True)
    found = Candidate(name, named, particles, tuple(cells))
    print(f"{name}: {found.wins} of {len(cells)} ahead, least ratio {found.least_ratio:.3f}")
    return found


def chosen(candidates: list[Candidate]) -> Candidate:
    """The candidate with the most wins, then the largest least ratio."""
    return max(candidates, key=lambda c: (c.wins, c.least_ratio))


def table(label: str, candidates: list[Candidate], seeds: range) -> str:
    """The candidates' numbers as Markdown, the chosen one named below."""
    best = chosen(candidates)
    lines = [
        f"{label} runs on {len(seeds)} validation tomograms like the sample (seeds "
        f"{seeds[0]} to {seeds[-1]}, used by no other table): particles named in windows "
        "centred on them, and the (tomogram, class) cells where the Respond-CAM map of the "
        "windows called the class puts more positive mass on the class's particles than "
        "Grad-CAM's, with the least and the geometric mean of the ratio of the two:",
        "",
        "| run | named | Respond-CAM ahead | least ratio | geometric mean ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in candidates:
        lines.append(
            f"| {c.name} | {c.named} of {c.particles} | {c.wins} of {len(c.cells)} | "
            f"{c.least_ratio:.3f} | {c.geometric_mean_ratio:.2f} |"
        )
    lines += ["", f"Chosen: {best.name} (the most cells ahead, then the largest least ratio)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", choices=tuple(MODELS), required=True)
    parser.add_argument(
        "--candidate",
        action="append",
        required=True,
        metavar="NAME=MODEL",
        help="a run to weigh: its name in the table, and a built-in model name or a file",
    )
    parser.add_argument("--tomograms", type=int, default=4, help="validation tomograms")
    parser.add_argument("--out", type=Path, help="write the table into this Markdown file")
    args = parser.parse_args(argv)
    pairs = [choice.partition("=") for choice in args.candidate]
    if any(not name or not model for name, _, model in pairs):
        parser.error("--candidate takes NAME=MODEL, a name for the table and a model")
    if len({name for name, _, _ in pairs}) < len(pairs):
        parser.error("each --candidate needs a name of its own")
    if args.tomograms < 1:
        parser.error(f"--tomograms takes 1 or more, got {args.tomograms}")
    torch.manual_seed(0)
    start = time.perf_counter()
    seeds = range(VALIDATION_SEEDS_FROM, VALIDATION_SEEDS_FROM + args.tomograms)
    # Every candidate loads before the minutes of work, so a wrong path fails at once.
    try:
        models = {name: load_model(model) for name, _, model in pairs}
    except RespondCamError as error:
        parser.error(f"--candidate: {error}")
    candidates = [measure(name, model, seeds) for name, model in models.items()]
    result = table(args.label, candidates, seeds)
    print(result)
    if args.out:
        given = " ".join(f'--candidate "{choice}"' for choice in args.candidate)
        command = (
            f"python docs/choose_demo_seed.py --label {args.label} {given} "
            f"--tomograms {args.tomograms} --out {args.out}"
        )
        write_section(
            args.out, "choose_demo_seed", measured_by(command, time.perf_counter() - start) + result
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
