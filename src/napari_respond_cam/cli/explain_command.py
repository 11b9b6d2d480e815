"""``respond-cam explain``: heatmaps of whole tomograms, here or on a Dask cluster."""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.options import (
    ALL_CLASSES,
    DEFAULT_METHOD,
    DEFAULT_PRECISION,
    METHOD_LABELS,
    PRECISIONS,
)
from ..errors import RespondCamError
from ..runs.regions import LABELS, PREDICTED, WHOLE, Region
from .model_arguments import add_model_arguments
from .run_arguments import (
    add_binning_argument,
    add_every_window_argument,
    add_preprocessing_arguments,
    add_window_argument,
    class_target,
    default_layer,
    require_window,
    shape_flag,
    window_flag,
)
from .threads_argument import add_threads_argument, apply_threads

if TYPE_CHECKING:
    from ..runs.explain_run import ExplainOutcome

DESCRIPTION = """\
Explain whole tomograms with Respond-CAM or Grad-CAM. Each TOMO.mrc is read window
by window and its heatmap is written to OUT/<name>_<method>cam.mrc (with --target all,
one file per class: OUT/<name>_<method>cam_<class>.mrc) with the input's voxel size and
origin, its header labels saying what made it; with --detections, what a classifier
found goes to OUT/<name>_detections.csv. Inputs are never overwritten, and
existing outputs only with --overwrite. With --scheduler the files run as tasks on a
Dask cluster, whose workers must see the same paths (a shared file system).

A classifier's map of a tomogram explained window by window (one larger than, or not
the shape of, the model's input) holds, by default, what the model found: with no
--target, every window but those it calls its background class (when the model names
one); with --target CLASS (or all), the windows it calls that class (--every-window
explains the class in every window instead).

For a model with an output per voxel (segmentation, picking, denoising), the heatmap
explains one output channel (--channel) summed over a region of the whole tomogram:
where the model predicts that channel (the default), the whole volume, or the voxels
of a label volume (--region-mask, --label). Each file's summary prints the region
score Y, the map's sum and the bias: Respond-CAM's map sums to Y minus the bias.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``explain`` subcommand."""
    parser = subparsers.add_parser(
        "explain", help="explain whole tomograms, writing MRC heatmaps", description=DESCRIPTION
    )
    parser.add_argument("tomograms", nargs="+", type=Path, metavar="TOMO.mrc")
    add_model_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--layer", help="target layer (default: the model's last spatial layer)")
    parser.add_argument(
        "--target",
        metavar="CLASS",
        help="class index or name to explain, or 'all' for one file per class "
        "(default: each window's predicted class)",
    )
    add_every_window_argument(parser, "explain", "--target CLASS or all")
    parser.add_argument(
        "--channel",
        metavar="NAME|INDEX",
        help="for a model with an output per voxel: the output channel to explain "
        "(default: the first channel that is not background)",
    )
    parser.add_argument(
        "--region",
        choices=(PREDICTED, WHOLE),
        help="for a model with an output per voxel: sum the channel where the model "
        "predicts it, or over the whole volume (default: predicted)",
    )
    parser.add_argument(
        "--region-mask",
        type=Path,
        metavar="FILE.mrc",
        help="for a model with an output per voxel: sum the channel over the voxels of "
        "this label volume, on the tomogram's grid",
    )
    parser.add_argument(
        "--label",
        type=int,
        metavar="N",
        help="with --region-mask: the label whose voxels form the region "
        "(default: every non-zero label)",
    )
    parser.add_argument("--method", choices=tuple(METHOD_LABELS), default=DEFAULT_METHOD)
    parser.add_argument(
        "--device", help="cpu, cuda, cuda:1, mps, ... (default: the GPU when there is one)"
    )
    add_window_argument(parser)
    parser.add_argument(
        "--stride",
        type=int,
        nargs="+",
        metavar="N",
        help="step between windows, one int or D H W (default: half the window)",
    )
    parser.add_argument("--batch-size", type=int, metavar="N", help="windows per batch")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=DEFAULT_PRECISION,
        help="run the network under autocast (bf16: faster on recent GPUs); maps stay float32",
    )
    add_preprocessing_arguments(parser)
    add_binning_argument(parser, "the heatmap is written on the tomogram's own grid")
    parser.add_argument(
        "--detections",
        action="store_true",
        help="also write OUT/<name>_detections.csv: for a classifier explained window by "
        "window, one row per object it did not call background, at its map's peak (voxel "
        "and Å coordinates, class, probability, score, tomogram, model), as napari's "
        "detections layer shows",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (tcp://host:8786) instead of here",
    )
    parser.add_argument(
        "--tasks-per-file",
        type=int,
        default=1,
        metavar="N",
        help="with --scheduler: split each tomogram into N tasks (for huge files)",
    )
    add_threads_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check everything, then explain each tomogram in turn (or on the cluster)."""
    from ..engine.batch_cam import check_input_fits
    from ..engine.layers import resolve_layer
    from ..jobs.file_jobs import ModelSource, explain_mrc_file
    from ..mrc_io import read_mrc
    from ..runs.choices import (
        AUTO_DEVICE,
        class_names_of,
        preprocessing_argument,
        resolve_device,
    )
    from ..runs.explain_run import binned, check_choices
    from ..runs.request import ExplainSettings
    from ..runs.summary import summary_text
    from ..tiling.volume_explainer import VolumeExplainer
    from .file_plan import check_inputs, check_region_mask, plan_jobs
    from .progress_bar import ProgressBar

    if args.tasks_per_file < 1:
        raise RespondCamError("--tasks-per-file must be at least 1.")
    if args.tasks_per_file != 1 and args.scheduler is None:
        raise RespondCamError(
            "--tasks-per-file splits each tomogram into tasks for a Dask cluster; give the "
            "cluster's --scheduler ADDRESS too, or drop --tasks-per-file."
        )
    apply_threads(args.threads)
    region = _region(args)
    sources = check_inputs(args.tomograms)
    source = ModelSource(str(args.model), args.architecture, args.trust)
    on_cluster = args.scheduler is not None
    device = args.device or AUTO_DEVICE
    window = window_flag(args.window)
    model = source.load("cpu" if on_cluster else resolve_device(device))
    layer = args.layer or default_layer(model, window)
    resolve_layer(model, layer)
    class_names = class_names_of(model)
    target = class_target(args.target, class_names)
    channel = _channel(args.channel, class_names)
    require_window(model, window)
    every_class = class_names if target == ALL_CLASSES else None
    settings = ExplainSettings(
        layer=layer,
        target=target,
        method=args.method,
        device=device,
        precision=args.precision,
        window=window,
        stride=shape_flag(args.stride, "--stride"),
        batch_size=args.batch_size,
        preprocessing=preprocessing_argument(args.preprocessing, model, args.invert),
        binning=args.bin,
        channel=channel,
        region=region,
        where_predicted=args.where_predicted,
    )
    # Build the first file's explainer and run the model once on one window's shape: a
    # wrong window, stride, target, binning or device fails now, with a message, rather
    # than after the first file's work. On a cluster the device is the workers' business:
    # check the rest on the CPU. The tiler takes one class at a time: for all classes,
    # checking any one will do.
    checked = dataclasses.replace(settings, device="cpu") if on_cluster else settings
    one_target = None if target == ALL_CLASSES else target
    first = binned(read_mrc(sources[0]).data, settings.binning)
    explainer = VolumeExplainer(model, first, target=one_target, **checked.tiling_arguments())
    output_shape = check_input_fits(explainer.setup, explainer.grid.window)
    check_choices(settings, output_shape)
    if region is not None and region.mask_file is not None:
        check_region_mask(region, sources)
    _check_detections(args, output_shape)
    _check_every_window(args, output_shape)
    if on_cluster and args.tasks_per_file > 1 and len(output_shape) > 2:
        raise RespondCamError(
            "--tasks-per-file above 1 splits a tomogram into slabs of windows, which a model "
            "with an output per voxel cannot be explained in yet (its region spans the "
            "whole tomogram); use --tasks-per-file 1 (one task per file)."
        )
    # Only now, with everything checked, is the --out folder created.
    jobs = plan_jobs(sources, args.out, args.method, args.overwrite, every_class, args.detections)
    started = time.monotonic()
    summaries = []
    if on_cluster:
        from ..jobs.distributed import explain_on_cluster

        bar = ProgressBar(f"{len(jobs)} file(s) on {args.scheduler}", unit="tasks")
        texts = explain_on_cluster(
            jobs, source, settings, args.scheduler, args.tasks_per_file, args.overwrite, bar
        )
        summaries = [f"{job.source.name}:\n{text}" for job, text in zip(jobs, texts, strict=True)]
    else:
        for done, job in enumerate(jobs):
            # For all classes every window is explained once per class.
            bar = (
                ProgressBar(f"{job.source.name}, {len(every_class)} classes", "window maps")
                if every_class
                else ProgressBar(job.source.name)
            )
            try:
                outcome = explain_mrc_file(
                    model,
                    job,
                    settings,
                    progress=bar,
                    overwrite=args.overwrite,
                    model_name=source.display_name,
                )
            except RespondCamError as error:
                stopped = _stopped_at(job, jobs[:done], jobs[done + 1 :], error)
                raise RespondCamError(stopped) from error
            summaries.append(f"{job.source.name}:\n{summary_text(outcome.summary)}")
            if outcome.request.binning_note:
                summaries.append(outcome.request.binning_note)
            if job.detections is not None:
                summaries.append(
                    _write_detections(
                        job.detections, job.source, source.display_name, outcome, args.overwrite
                    )
                )
    seconds = time.monotonic() - started
    for job in jobs:
        print(*job.files, sep="\n")
    print(*summaries, sep="\n")
    print(f"Explained {len(jobs)} tomogram(s) in {seconds:.1f} s.", flush=True)
    return 0


def _check_every_window(args: argparse.Namespace, output_shape: tuple[int, ...]) -> None:
    """Refuse --every-window where it would change nothing, before any work."""
    if args.where_predicted:
        return
    if len(output_shape) > 2:
        raise RespondCamError(
            "--every-window is for a classifier explained window by window; this model gives "
            "an output per voxel, explained over a region (--channel, --region): drop "
            "--every-window."
        )
    if args.target is None:
        raise RespondCamError(
            "--every-window explains one class in every window, so it needs --target CLASS "
            "(or all); without --target each window explains its own predicted class. Add "
            "--target, or drop --every-window."
        )


def _check_detections(args: argparse.Namespace, output_shape: tuple[int, ...]) -> None:
    """Refuse --detections where there are none to write, before any work."""
    if not args.detections:
        return
    if args.scheduler is not None:
        raise RespondCamError(
            "--detections is written on this machine only, not from a Dask cluster; drop "
            "--scheduler, or --detections."
        )
    if args.target is not None:
        raise RespondCamError(
            "--detections lists what the model found, each window at the map peak of its own "
            f"predicted class, and --target {args.target} explains one class everywhere; drop "
            "--target (each window then explains its predicted class), or --detections."
        )
    if len(output_shape) > 2:
        raise RespondCamError(
            f"--detections lists the windows a classifier did not call background, and this "
            f"model has an output per voxel (shape {output_shape} for one window); drop "
            "--detections."
        )


def _write_detections(
    path: Path, source: Path, model: str, outcome: ExplainOutcome, overwrite: bool
) -> str:
    """Write the detections file of tomogram ``source``; the line saying what it holds."""
    from ..jobs.detections_file import write_detections
    from ..mrc_io import read_mrc

    tomogram = read_mrc(source)
    n = write_detections(
        path,
        outcome.detections,
        tomogram.voxel_size,
        tomogram.origin,
        tomogram=source.name,
        model=model,
        overwrite=overwrite,
    )
    if outcome.detections is None:
        return f"{path}: no rows (the tomogram fits one window; nothing was tiled)."
    return f"{path}: {n} detection(s)."


def _channel(text: str | None, channel_names: Sequence[str]) -> int | None:
    """The output channel ``--channel`` names, by name or index."""
    from ..runs.choices import channel_argument

    try:
        return channel_argument(text, channel_names)
    except RespondCamError as error:
        raise RespondCamError(f"--channel: {error}") from None


def _stopped_at(job: Any, written: Sequence[Any], skipped: Sequence[Any], error: Exception) -> str:
    """The error of one file in a batch, with what was written before it and what was not
    explained after it, so a rerun can pick up where this one stopped."""
    lines = [f"{job.source}: {error}"]
    if written:
        files = ", ".join(str(path) for done in written for path in done.files)
        lines.append(f"Written before it: {files}.")
    if skipped:
        names = ", ".join(str(later.source) for later in skipped)
        lines.append(f"Not explained: {names}; to finish, run the command on those files alone.")
    return "\n".join(lines)


def _region(args: argparse.Namespace) -> Region | None:
    """The region ``--region``, ``--region-mask`` and ``--label`` name; ``None``: the
    default (where the model predicts the channel)."""
    if args.label is not None and args.region_mask is None:
        raise RespondCamError(
            f"--label {args.label} picks a label of a label volume; name that volume with "
            "--region-mask FILE.mrc."
        )
    if args.region_mask is None:
        return None if args.region is None else Region(args.region)
    if args.region is not None:
        raise RespondCamError(
            f"--region {args.region} and --region-mask both say which voxels to explain; "
            "pass one of them."
        )
    path = str(Path(args.region_mask).expanduser().resolve())
    return Region(LABELS, label=args.label, mask_file=path)
