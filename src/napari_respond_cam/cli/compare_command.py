"""``respond-cam compare``: several CAM methods on one MRC file, and how faithful each map is."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..engine.options import METHOD_LABELS, same_weights_note
from ..errors import RespondCamError, warn_user
from ..faithfulness.measure_options import DEFAULT_FILL, DEFAULT_STEPS, FILL_LABELS
from .model_arguments import add_model_arguments
from .run_arguments import (
    add_binning_argument,
    add_every_window_argument,
    add_preprocessing_arguments,
    add_window_argument,
    class_target,
    default_layer,
    shape_flag,
    window_flag,
)
from .threads_argument import add_threads_argument, apply_threads

if TYPE_CHECKING:
    from ..faithfulness import MethodScores

DESCRIPTION = """\
Explain one MRC file (a tomogram, or a subtomogram of the model's input size) with
several CAM methods and print, per method: the sum-to-score error |map sum - (score -
bias)| / |score|, the areas under the deletion and insertion curves (the target score
as the map's most relevant voxels are removed, or added back, in --steps steps; lower
is better for deletion, higher for insertion) and the ROAD score (removed voxels imputed
from their neighbours; most minus least relevant first, higher is better). A tomogram
is measured in the windows the tiler cuts and explain's map holds (means over windows;
with no --target, not those the model calls background; with --target CLASS, only those
the model calls the class, unless --every-window); a file the size of the
model's input is one window. With --bin N the file (and --mask) is block-averaged first,
as explain does it. Nothing is written but the --csv file, if asked: a new
file, or an existing one only with --overwrite.

A progress bar on stderr names the method being measured and counts steps: for each
method, each window's map, then each window's four curves (deletion, insertion, ROAD
both ways); the volume's statistics, when the model's preprocessing needs them, have
a bar of their own first. Where stderr is not a terminal, only each bar's last line
is written.
"""

#: The table's columns: the CSV header names, and the printed titles.
COLUMNS = {
    "method": "method",
    "sum_to_score_error": "sum-to-score error",
    "deletion_auc": "deletion AUC",
    "insertion_auc": "insertion AUC",
    "road_score": "ROAD",
    "mass_inside": "mass in mask",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    parser = subparsers.add_parser(
        "compare",
        help="compare CAM methods on one file: sum-to-score, deletion, insertion, ROAD",
        description=DESCRIPTION,
    )
    parser.add_argument("volume", type=Path, metavar="FILE.mrc")
    add_model_arguments(parser)
    parser.add_argument("--layer", help="target layer (default: the model's last spatial layer)")
    parser.add_argument(
        "--target",
        metavar="CLASS",
        help="class index or name to explain (default: each window's predicted class)",
    )
    add_every_window_argument(parser, "measure", "--target CLASS")
    parser.add_argument(
        "--methods",
        default=",".join(METHOD_LABELS),
        metavar="M1,M2",
        help=f"methods to compare, with commas (default: all: {','.join(METHOD_LABELS)})",
    )
    add_window_argument(parser, otherwise="else the whole file, as one window")
    parser.add_argument(
        "--stride",
        type=int,
        nargs="+",
        metavar="N",
        help="step between windows, one int or D H W (default: half the window)",
    )
    add_preprocessing_arguments(parser)
    add_binning_argument(parser, "the measures are of the binned file (and --mask)")
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"steps of the deletion and insertion curves (default: {DEFAULT_STEPS})",
    )
    parser.add_argument(
        "--fill",
        choices=tuple(FILL_LABELS),
        default=DEFAULT_FILL,
        help="what removed voxels become: "
        + "; ".join(f"{name}: {label}" for name, label in FILL_LABELS.items())
        + f" (default: {DEFAULT_FILL})",
    )
    parser.add_argument(
        "--mask",
        type=Path,
        metavar="MASK.mrc",
        help="a mask on the file's grid (non-zero inside): adds each map's share of "
        "positive mass inside it",
    )
    parser.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="also write the table as CSV, to a new file (an existing file is refused "
        "unless --overwrite)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (the --csv file)"
    )
    parser.add_argument(
        "--device", help="cpu, cuda, cuda:1, mps, ... (default: the GPU when there is one)"
    )
    parser.add_argument("--batch-size", type=int, metavar="N", help="inputs per forward pass")
    add_threads_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check everything, compare the methods, print the table (and write the CSV)."""
    from ..engine.class_index import class_label
    from ..engine.layers import resolve_layer
    from ..faithfulness import compare_methods_on_volume
    from ..faithfulness.method_comparison import checked_methods
    from ..faithfulness.perturbation_run import positive_steps
    from ..faithfulness.target_scorer import refuse_all_classes
    from ..jobs.file_jobs import ModelSource
    from ..mrc_io import read_mrc
    from ..runs.choices import (
        AUTO_DEVICE,
        class_names_of,
        file_voxel_size_warning,
        preprocessing_argument,
        resolve_device,
    )
    from ..runs.counted_windows import background_class_of
    from ..runs.explain_run import binned
    from .file_plan import check_inputs

    apply_threads(args.threads)
    [path] = check_inputs([args.volume])
    methods = checked_methods([m.strip() for m in args.methods.split(",") if m.strip()])
    positive_steps(args.steps)
    csv_path = _csv_path(args.csv, path, args.mask, args.overwrite)
    tomogram = read_mrc(path)
    volume = binned(tomogram.data, args.bin)
    mask = None if args.mask is None else _mask(args.mask, tomogram.data.shape, args.bin)
    source = ModelSource(str(args.model), args.architecture, args.trust)
    device = resolve_device(args.device or AUTO_DEVICE)
    model = source.load(device)
    voxel_size = tomogram.voxel_size if tomogram.voxel_size_known else None
    warning = file_voxel_size_warning(model, voxel_size, args.bin, path.name)
    if warning:
        warn_user(warning)
    window = window_flag(args.window)
    layer = args.layer or default_layer(model, window)
    resolve_layer(model, layer)
    class_names = class_names_of(model)
    target = class_target(args.target, class_names)
    refuse_all_classes(target)
    assert not isinstance(target, str), "'all' is the only target named by text"
    if window is None and getattr(model, "input_shape", None) is None:
        window = tuple(volume.shape)
    preprocessing = preprocessing_argument(args.preprocessing, model, args.invert)
    stride = shape_flag(args.stride, "--stride")
    _require_class_scores(model, volume, layer, window, stride, device, preprocessing)
    background = background_class_of(model)
    rows = compare_methods_on_volume(
        model,
        volume,
        layer,
        methods=methods,
        target=target,
        mask=mask,
        window=window,
        stride=stride,
        device=device,
        batch_size=args.batch_size,
        steps=args.steps,
        fill=args.fill,
        preprocessing=preprocessing,
        statistics=_statistics(model, volume, preprocessing, path.name),
        background_class=background,
        where_predicted=args.where_predicted,
        progress=MethodsBar(path.name, methods),
    )
    windows = len(rows[0].faithfulness.deletion.scores)
    explained = (
        "each window's predicted class" if target is None else class_label(target, class_names)
    )
    seen = f" binned by {args.bin}" if args.bin > 1 else ""
    note = rows[0].left_out
    print(
        f"{path.name}{seen}: {windows} window(s){f' ({note})' if note else ''}, layer "
        f"{layer}, target {explained}, {args.steps} steps, fill {args.fill}"
    )
    print(comparison_table(rows))
    same = same_weights_note(methods)
    if same:
        print(same)
    if csv_path is not None:
        with csv_path.open("w" if args.overwrite else "x", newline="", encoding="utf-8") as file:
            write_csv(rows, file)
        print(csv_path)
    return 0


class MethodsBar:
    """``compare_methods_on_volume``'s progress as a :class:`ProgressBar` naming the
    method being measured: ``tomo.mrc Grad-CAM (2/8) [###...] 130/960 steps, 4.1/s``.

    The steps are the same number for each method, method after method, so the one
    being measured follows from ``done``; the final line names the file and the count
    of methods.
    """

    def __init__(self, name: str, methods: Sequence[str], stream: TextIO | None = None):
        from .progress_bar import ProgressBar

        self.name = name
        self.methods = tuple(methods)
        self.bar = ProgressBar(name, unit="steps", stream=stream)

    def __call__(self, done: int, total: int) -> None:
        n = len(self.methods)
        if done >= total:
            self.bar.label = f"{self.name}: {n} method{'s' if n > 1 else ''}"
        else:
            # The step just done belongs to method k (step 0: the first method starts).
            k = min(max(done - 1, 0) * n // max(total, 1), n - 1)
            self.bar.label = f"{self.name} {METHOD_LABELS[self.methods[k]]} ({k + 1}/{n})"
        self.bar(done, total)


def comparison_table(rows: Sequence[MethodScores]) -> str:
    """The rows as aligned text: one line per method, numbers right-aligned."""
    cells = [list(_columns(rows).values())] + [_cells(row, rows, "{:.4g}") for row in rows]
    widths = [max(len(line[k]) for line in cells) for k in range(len(cells[0]))]
    lines = [
        "  ".join(
            cell.ljust(width) if k == 0 else cell.rjust(width)
            for k, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    ]
    return "\n".join(lines)


def write_csv(rows: Sequence[MethodScores], file: TextIO = sys.stdout) -> None:
    """The rows as CSV, with the column names of :data:`COLUMNS`, numbers to 9 digits."""
    writer = csv.writer(file)
    writer.writerow(list(_columns(rows)))
    for row in rows:
        writer.writerow(_cells(row, rows, "{:.9g}", label=False))


def _columns(rows: Sequence[MethodScores]) -> dict[str, str]:
    with_mass = any(row.mass_inside is not None for row in rows)
    return {key: title for key, title in COLUMNS.items() if with_mass or key != "mass_inside"}


def _cells(
    row: MethodScores, rows: Sequence[MethodScores], number: str, label: bool = True
) -> list[str]:
    cells = [METHOD_LABELS[row.method] if label else row.method]
    for key in list(_columns(rows))[1:]:
        value = getattr(row, key)
        cells.append("nan" if value is None or math.isnan(value) else number.format(value))
    return cells


def _csv_path(
    path: Path | None, source: Path, mask: Path | None = None, overwrite: bool = False
) -> Path | None:
    """The --csv file, checked before any work: a file in an existing folder, not an
    input, new unless ``overwrite``."""
    if path is None:
        return None
    path = path.expanduser().resolve()
    if path == source:
        raise RespondCamError(f"--csv {path} is the input file; name a new file for the table.")
    if mask is not None and path == Path(mask).expanduser().resolve():
        raise RespondCamError(f"--csv {path} is the --mask file; name a new file for the table.")
    if path.is_dir():
        raise RespondCamError(
            f"--csv {path} is a folder; name a file for the table, such as "
            f"{path / (source.stem + '_methods.csv')}."
        )
    if path.exists() and not overwrite:
        raise RespondCamError(
            f"--csv {path} exists and is kept; pass --overwrite to replace it, or name a new file."
        )
    if not path.parent.is_dir():
        raise RespondCamError(
            f"--csv {path}: the folder {path.parent} does not exist; create it or name "
            "a file in an existing folder."
        )
    return path


def _require_class_scores(model, volume, layer, window, stride, device, preprocessing) -> None:
    """Refuse, before any work, a model whose output is a map per voxel: the comparison
    follows one class score per window. Checks the window, stride and layer on the way."""
    from ..engine.batch_cam import check_input_fits
    from ..tiling.volume_explainer import VolumeExplainer

    explainer = VolumeExplainer(
        model, volume, layer, window=window, stride=stride, device=device,
        preprocessing=preprocessing,
    )  # fmt: skip
    output_shape = check_input_fits(explainer.setup, explainer.grid.window)
    if len(output_shape) > 2:
        raise RespondCamError(
            "respond-cam compare measures a classifier's class scores, and this model gives "
            f"a map per voxel (shape {output_shape} for one window); explain it one method "
            "at a time with respond-cam explain --method M (--channel and --region choose "
            "what is explained)."
        )


def _statistics(model, volume, preprocessing, name: str):
    """The volume's statistics when the preprocessing needs them (read here, with a bar
    of their own, then shared by every method), else ``None``."""
    from ..faithfulness.method_comparison import statistics_needed
    from .progress_bar import ProgressBar

    bar = ProgressBar(name, unit="blocks")
    return statistics_needed(model, volume, preprocessing, progress=bar)


def _mask(path: Path, shape: tuple[int, ...], binning: int):
    """The --mask file as a bool array on the grid the model sees: the volume's, or,
    binned, one voxel per cube, inside where most of the cube is."""
    import numpy as np

    from ..mrc_io import read_mrc
    from ..runs.explain_run import binned

    data = read_mrc(Path(path).expanduser().resolve()).data
    if tuple(data.shape) != tuple(shape):
        raise RespondCamError(
            f"--mask {path} has shape {tuple(data.shape)} but the file compared has "
            f"{tuple(shape)}; pass a mask on the same grid."
        )
    inside = (np.asarray(data) != 0).astype(np.float32)
    return np.asarray(binned(inside, binning)) > 0.5
