"""explain_volume against its floor: the bare forward + backward on the same windows.

Prints one Markdown table: windows per second of ``explain_volume`` on a memory-
mapped MRC tomogram, with its host work (reading, cutting, adding) in helper threads
and in line, and of the floor; and the peak resident memory against the
output's size. Targets: overhead over the floor at most 10 %; peak RSS at most the
output's size + 1 GB above what the process held before (Python, torch, the model:
with CUDA's libraries loaded, that alone exceeds 1 GB).

The floor runs on every window, cut in advance and held on the device, batch by
batch: the forward pass with the target layer's output as a gradient leaf, and the
gradient of the predicted-class scores down to that layer. That is the least any
CAM of those windows costs. ``explain_volume`` adds reading from disk, cutting
windows, the CAM weights and maps, upsampling, blending and adding to the output.

The three are timed as whole runs, taking turns ``--repeats`` times, so that load
from other programs on a shared machine hits all alike; the table gives medians.
Peak RSS is read after a first, plain run of ``explain_volume``, before the floor's
windows exist; it counts the pages of the memory-mapped input the run touched.

    python benchmarks/explain_volume_speed.py                      # CPU, 256 x 256 x 128
    python benchmarks/explain_volume_speed.py --device cuda --shape 512 512 256

On a CPU shared with other programs, every extra tensor operation can wait for a
core to wake a second thread; ``--threads 1`` shows the overhead without that.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dask.array as da
import numpy as np
import torch
from window_floor import WindowFloor

from napari_respond_cam import explain_volume
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.tiling import volume_explainer
from napari_respond_cam.tiling.overlap import BatchOverlap, InLineBatches, host_work_runner

# The paper's CNN-1 at 40^3 takes minutes per tomogram on two CPU cores; the CPU run
# uses the same architecture, narrower and at 32^3.
MODELS = {
    "small": {"input_size": 32, "channels": (8, 8, 16, 16), "dense": (64, 64)},
    "paper": {"input_size": 40, "channels": (32, 32, 64, 64), "dense": (512, 512)},
}
LAYER = "maxpool2"


def build_model(name: str, device: str) -> CNN1:
    torch.manual_seed(0)
    return CNN1(num_classes=5, **MODELS[name]).to(device).eval()


@contextmanager
def host_work(runner: type) -> Iterator[None]:
    """Run explain_volume with ``runner`` for its host work, whatever the device."""
    chosen = volume_explainer.host_work_runner
    volume_explainer.host_work_runner = lambda device: runner
    try:
        yield
    finally:
        volume_explainer.host_work_runner = chosen


def seconds(run: Callable[[], object], device: str) -> float:
    started = time.perf_counter()
    run()
    _synchronise(torch.device(device))
    return time.perf_counter() - started


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_tomogram(path: Path, shape_zyx: tuple[int, ...]) -> Path:
    """Random noise written slab by slab, so the tomogram is never whole in this process."""
    noise = da.random.default_rng(0).normal(size=shape_zyx, chunks=(16, *shape_zyx[1:]))
    return write_mrc(path, noise.astype(np.float32), voxel_size=10.0)


HOST_WORK = {"threads": "in helper threads", "in line": "in line"}


def measure(args: argparse.Namespace, model_name: str, batch_size: int) -> dict:
    on_cuda = args.device.startswith("cuda")
    model = build_model(model_name, args.device)
    shape_zyx = tuple(args.shape[::-1])
    with tempfile.TemporaryDirectory() as folder:
        path = write_tomogram(Path(folder) / "tomogram.mrc", shape_zyx)
        warm_up = np.random.default_rng(1).normal(size=model.input_shape[1:])
        explain_volume(model, warm_up.astype(np.float32), LAYER, device=args.device)

        def explain() -> None:
            data = read_mrc(path).data
            explain_volume(model, data, LAYER, batch_size=batch_size, device=args.device)

        def with_threads() -> None:
            with host_work(BatchOverlap):
                explain()

        def in_line() -> None:
            with host_work(InLineBatches):
                explain()

        before = _rss_bytes()
        first = seconds(explain, args.device)
        peak = _peak_rss_bytes()
        gpu = torch.cuda.max_memory_allocated(args.device) if on_cuda else 0
        volume = np.array(read_mrc(path).data)
        floor = WindowFloor(model, volume, LAYER, window=model.input_shape[1:],
                            batch_size=batch_size, device=args.device)  # fmt: skip
        floor.warm_up()
        runs = {"floor": floor, "threads": with_threads, "in line": in_line}
        times = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                times[name].append(seconds(run, args.device))
    return {
        "windows": len(floor),
        "times": {name: np.array(t) for name, t in times.items()},
        "first": first,
        "chosen": host_work_runner(torch.device(args.device)),
        "output": int(np.prod(shape_zyx)) * 4,
        "before": before,
        "peak": peak,
        "gpu": gpu,
    }


def report(args: argparse.Namespace, model_name: str, batch_size: int, m: dict) -> None:
    on_cuda = args.device.startswith("cuda")
    gib = 2**30
    n = m["windows"]
    median = {name: float(np.median(t)) for name, t in m["times"].items()}
    chosen = "threads" if m["chosen"] is BatchOverlap else "in line"
    threads = f"CPU, {torch.get_num_threads()} threads"
    device = torch.cuda.get_device_name(args.device) if on_cuda else threads
    print(
        f"\n{device}, torch {torch.__version__}; CNN-1 '{model_name}' {MODELS[model_name]}, "
        f"layer {LAYER}; tomogram x y z = {' x '.join(map(str, args.shape))}, {n} windows "
        f"(stride half a window), batch {batch_size}; median of {args.repeats} runs each. "
        f"On this device explain_volume does its host work {HOST_WORK[chosen]}.\n"
    )
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| floor (forward + backward), windows/s | {n / median['floor']:.1f} | |")
    for name in ("threads", "in line"):
        rate = n / median[name]
        overhead = median[name] / median["floor"] - 1
        paired = ", ".join(f"{r:+.1%}" for r in m["times"][name] / m["times"]["floor"] - 1)
        target = "<= +10%" if name == chosen else ""
        print(f"| explain_volume, host work {HOST_WORK[name]}, windows/s | {rate:.1f} | |")
        print(f"| its overhead over the floor: medians (run by run) | {overhead:+.1%} ({paired}) "
              f"| {target} |")  # fmt: skip
    print(f"| explain_volume, first run (cold), windows/s | {n / m['first']:.1f} | |")
    print(f"| output size | {m['output'] / gib:.3f} GiB | |")
    print(f"| RSS before explain_volume (Python, torch, model) | {m['before'] / gib:.3f} GiB | |")
    print(f"| peak RSS (first run) | {m['peak'] / gib:.3f} GiB | |")
    rest = (m["peak"] - m["before"] - m["output"]) / gib
    print(f"| peak RSS - RSS before - output size | {rest:.3f} GiB | <= 1 GiB |")
    if on_cuda:
        print(f"| peak GPU memory allocated (first run) | {m['gpu'] / gib:.3f} GiB | |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--shape",
        type=int,
        nargs=3,
        default=(256, 256, 128),
        metavar=("X", "Y", "Z"),
        help="tomogram size x y z (default 256 256 128)",
    )
    parser.add_argument("--model", choices=MODELS, help="default: small on CPU, paper on CUDA")
    parser.add_argument("--batch-size", type=int, help="default: 8 on CPU, 32 on CUDA")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, in turns (3)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    on_cuda = args.device.startswith("cuda")
    model_name = args.model or ("paper" if on_cuda else "small")
    batch_size = args.batch_size or (32 if on_cuda else 8)
    report(args, model_name, batch_size, measure(args, model_name, batch_size))


if __name__ == "__main__":
    main()
