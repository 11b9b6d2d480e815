"""The second table of explain_speed.py: variants of the floor, each timed alternately
with the plain fp32 floor in the same run, and how far its result is from the plain one.

cuDNN autotuning, cuDNN without TF32, channels_last_3d (the floor, and ``explain``),
bf16 autocast (alone, with channels_last_3d, with autotuning, and ``explain``), the
floor with the layer's output as a gradient leaf (as ``explain`` runs it), CUDA graph
replay, and torch.compile (the leaf floor and ``explain`` on the compiled model;
``--compile``). A variant that cannot run here, or fails, is a row with a note, never
a crash.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace

import torch
from map_agreement import as_array, correlation, relative_difference
from speed_cases import Case
from speed_floors import floor, leaf_floor
from speed_timing import failure_note, side_by_side
from torch import nn

from napari_respond_cam import explain


class NotApplicable(Exception):
    """A variant that does not run here; its message becomes the row's note."""


Builder = Callable[[Case, argparse.Namespace], Callable[[], object]]


@dataclass(frozen=True)
class Variant:
    """A way of running the floor (or ``explain``) to time against the plain fp32 floor.

    ``build`` returns the function to time (raising NotApplicable where it cannot run);
    each call of it runs inside ``context``. Its result is compared with the plain
    floor's gradient (``reference="floor"``) or plain ``explain``'s Respond-CAM maps
    (``reference="explain"``); it agrees when the largest difference is at most
    ``tolerance`` times the largest plain value.
    """

    what: str
    build: Builder
    reference: str = "floor"
    tolerance: float = 1e-2
    context: Callable[[], AbstractContextManager] = nullcontext
    first_call_note: bool = False


@dataclass(frozen=True)
class VariantRow:
    """One row of the variants table; ``seconds`` 0 when the variant did not run."""

    case: str
    what: str
    seconds: float = 0.0
    plain: float = 0.0
    peak_mib: float | None = None
    difference: float | None = None
    r: float | None = None
    tolerance: float | None = None
    note: str = ""


@contextmanager
def backend_flag(backend: object, name: str, value: bool) -> Iterator[None]:
    """Set a flag such as ``torch.backends.cudnn.benchmark`` for a block, then restore it."""
    before = getattr(backend, name)
    setattr(backend, name, value)
    try:
        yield
    finally:
        setattr(backend, name, before)


def _cuda_only(case: Case) -> None:
    """Raise NotApplicable unless the case runs on a CUDA device."""
    if case.x.device.type != "cuda":
        raise NotApplicable("CUDA only")


def cudnn_floor(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """The plain floor, for variants that only change cuDNN flags (CUDA only)."""
    _cuda_only(case)
    return floor(case)


def channels_last(case: Case) -> Case:
    """The case with a channels_last_3d copy of the model and a channels_last_3d input."""
    model = copy.deepcopy(case.model).to(memory_format=torch.channels_last_3d)
    x = case.x.contiguous(memory_format=torch.channels_last_3d)
    return replace(case, model=model, x=x)


def channels_last_floor(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """The floor on a channels_last_3d model and input."""
    return floor(channels_last(case))


def channels_last_explain(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """``explain`` with Respond-CAM on a channels_last_3d model and input."""
    last = channels_last(case)
    return lambda: explain(last.model, last.x, last.layer, target=last.target)


def bf16_floor(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """The floor with its forward pass under bf16 autocast; the gradient in its own dtype."""
    return floor(case, autocast=torch.bfloat16)


def bf16_channels_last_floor(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """The bf16 floor on a channels_last_3d model and input (the layout tensor cores favour)."""
    return floor(channels_last(case), autocast=torch.bfloat16)


def bf16_cudnn_floor(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """The bf16 floor, for the cuDNN autotuning variant (CUDA only)."""
    _cuda_only(case)
    return bf16_floor(case, args)


def bf16_channels_last_explain(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """``explain`` in bf16 on a channels_last_3d model and input."""
    last = channels_last(case)
    return lambda: explain(last.model, last.x, last.layer, target=last.target, precision="bf16")


def plain_leaf_floor(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """The floor with the layer's output as a gradient leaf, as ``explain`` runs it."""
    return leaf_floor(case)


# By id of the original model, which is kept beside its compiled copy so that the id
# cannot be reused by another model while it is cached.
_COMPILED: dict[int, tuple[nn.Module, nn.Module]] = {}


def compiled(case: Case, args: argparse.Namespace) -> Case:
    """The case with a torch.compile'd copy of its model (made once per model; --compile)."""
    if not args.compile:
        raise NotApplicable("skipped: pass --compile")
    key = id(case.model)
    if key not in _COMPILED:
        _COMPILED[key] = (case.model, torch.compile(copy.deepcopy(case.model)))
    return replace(case, model=_COMPILED[key][1], layer=f"_orig_mod.{case.layer}")


def compiled_floor(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """The leaf floor on the compiled model (the hook floor cannot reach an inner output)."""
    return leaf_floor(compiled(case, args))


def compiled_explain(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """``explain`` with Respond-CAM on the compiled model, its layer as ``_orig_mod.<name>``."""
    on = compiled(case, args)
    return lambda: explain(on.model, on.x, on.layer, target=on.target)


def graphed_floor(case: Case, args: argparse.Namespace) -> Callable[[], object]:
    """The floor captured in a CUDA graph on a static input; each call copies the input in
    and replays the graph (CUDA only).

    Warmed up on a side stream before capture, as the PyTorch documentation asks.
    """
    _cuda_only(case)
    static_x = case.x.clone()
    run = floor(replace(case, x=static_x))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            run()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_gradient = run()

    def replay() -> torch.Tensor:
        static_x.copy_(case.x)
        graph.replay()
        return static_gradient

    return replay


VARIANTS = (
    Variant("cuDNN autotuning on (cudnn.benchmark)", cudnn_floor,
            context=lambda: backend_flag(torch.backends.cudnn, "benchmark", True)),
    Variant("cuDNN without TF32 (cudnn.allow_tf32 off)", cudnn_floor,
            context=lambda: backend_flag(torch.backends.cudnn, "allow_tf32", False)),
    Variant("channels_last_3d model and input", channels_last_floor),
    Variant("explain, Respond-CAM, channels_last_3d", channels_last_explain, "explain"),
    Variant("bf16 autocast forward", bf16_floor, tolerance=0.1),
    Variant("bf16, channels_last_3d", bf16_channels_last_floor, tolerance=0.1),
    Variant("bf16, cuDNN autotuning on", bf16_cudnn_floor, tolerance=0.1,
            context=lambda: backend_flag(torch.backends.cudnn, "benchmark", True)),
    Variant("explain, Respond-CAM, bf16, channels_last_3d", bf16_channels_last_explain,
            "explain", tolerance=0.1),
    Variant("leaf floor (no_grad forward, layer output a leaf)", plain_leaf_floor),
    Variant("CUDA graph replay (input copied in)", graphed_floor),
    Variant("torch.compile, leaf floor", compiled_floor, first_call_note=True),
    Variant("torch.compile, explain, Respond-CAM", compiled_explain, "explain",
            first_call_note=True),
)  # fmt: skip


def _inside(
    context: Callable[[], AbstractContextManager], fn: Callable[[], object]
) -> Callable[[], object]:
    """``fn`` with each call inside a fresh ``context()``."""

    def run() -> object:
        with context():
            return fn()

    return run


def variant_row(
    variant: Variant, case: Case, references: dict[str, object], args: argparse.Namespace
) -> VariantRow:
    """Time one variant of one case beside the plain floor; a failure becomes the note."""
    device = case.x.device
    row = VariantRow(case.name, variant.what)
    try:
        fn = _inside(variant.context, variant.build(case, args))
        plain, t = side_by_side(floor(case), fn, device, args.repeats)
        reference = references[variant.reference]
        difference = relative_difference(t.result, reference)
        r = correlation(as_array(t.result), as_array(reference))
        note = f"first call {t.first_seconds:.1f} s" if variant.first_call_note else ""
        return replace(
            row, seconds=t.seconds, plain=plain, peak_mib=t.peak_mib, difference=difference,
            r=r, tolerance=variant.tolerance, note=note,
        )  # fmt: skip
    except NotApplicable as reason:
        return replace(row, note=str(reason))
    except Exception as error:  # a variant failing is a result, not a crash
        return replace(row, note=failure_note(error))


def variant_header() -> str:
    """The Markdown header of the variants table."""
    return (
        "| model | variant | ms | plain floor ms | × plain floor | max abs diff / max "
        "| r | agrees | peak GPU MiB | note |\n|---|---|---|---|---|---|---|---|---|---|"
    )


def variant_line(r: VariantRow) -> str:
    """One Markdown row of the variants table."""
    if not r.seconds:
        return f"| {r.case} | {r.what} | — | — | — | — | — | — | — | {r.note} |"
    agrees = "yes" if r.difference <= r.tolerance else f"no (tolerance {r.tolerance:g})"
    peak = f"{r.peak_mib:.0f}" if r.peak_mib is not None else "—"
    return (
        f"| {r.case} | {r.what} | {r.seconds * 1e3:.1f} | {r.plain * 1e3:.1f} "
        f"| {r.seconds / r.plain:.2f} | {r.difference:.1e} | {r.r:.4f} | {agrees} | {peak} "
        f"| {r.note} |"
    )


def variant_table(cases: list[Case], args: argparse.Namespace) -> str:
    """Every variant for every case, variant by variant (torch.compile last), printed
    row by row so that a run cut short by a time limit still shows what it measured."""
    references = {}
    for case in cases:
        references[case.name] = {
            "floor": floor(case)(),
            "explain": explain(case.model, case.x, case.layer, target=case.target),
        }
    lines = ["Floor variants, each called alternately with the plain fp32 floor:", "",
             variant_header()]  # fmt: skip
    print("\n" + "\n".join(lines), flush=True)
    for variant in VARIANTS:
        for case in cases:
            line = variant_line(variant_row(variant, case, references[case.name], args))
            print(line, flush=True)
            lines.append(line)
    return "\n".join(lines)
