"""What a perturbation method costs, stated before it runs.

Ablation-CAM runs the model once more on a copy of every sample per channel of the
target layer, on top of the one forward and one backward pass every method takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .ablation_cam import channels_per_call, model_calls
from .batch_cam import check_input_fits
from .options import DEFAULT_METHOD, METHOD_LABELS
from .run_setup import RunSetup


@dataclass(frozen=True)
class PerturbationCost:
    """The extra forward passes a method takes for some samples.

    Attributes
    ----------
    method : str
        The method's name.
    samples : int
        The samples (or windows) explained.
    channels : int
        The target layer's channels: one ablated copy of each sample per channel;
        0 for a method that takes no extra pass.
    model_calls : int
        The model calls the copies are grouped into, before any halving for memory.
    """

    method: str
    samples: int
    channels: int
    model_calls: int

    @property
    def extra_forward_passes(self) -> int:
        """Samples run through the model on top of the one forward pass: samples x channels."""
        return self.samples * self.channels

    def __str__(self) -> str:
        label = METHOD_LABELS[self.method]
        if not self.extra_forward_passes:
            return f"{label} takes one forward and one backward pass, and no extra pass."
        return (
            f"{label} runs the model on {_count(self.extra_forward_passes, 'more sample')} "
            f"({_count(self.channels, 'channel')} x {_count(self.samples, 'sample')}) in "
            f"{_count(self.model_calls, 'call')}, on top of one forward and one backward pass."
        )


def _count(n: int, noun: str) -> str:
    """``"1 call"``, ``"2,000 calls"``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def perturbation_cost(
    model: nn.Module,
    layer: str | nn.Module,
    spatial: tuple[int, ...],
    *,
    samples: int = 1,
    method: str = DEFAULT_METHOD,
    batch_size: int | None = None,
    perturbation_batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> PerturbationCost:
    """The extra forward passes ``method`` takes for ``samples`` samples of ``spatial`` size.

    For a perturbation method the model runs once on zeros of one sample, to read the
    layer's channels; gradient methods cost nothing extra and run nothing here.

    Parameters
    ----------
    model : torch.nn.Module
    layer : str or torch.nn.Module
        The target layer, as for ``explain``.
    spatial : tuple of int
        The spatial shape of one sample (or window).
    samples : int
        How many samples (or windows) are explained.
    method : str
        A name from :data:`.options.METHOD_LABELS`.
    batch_size : int, optional
        Samples (or windows) per batch, as given to ``explain`` or ``explain_volume``;
        all at once by default.
    perturbation_batch_size : int, optional
        Samples per model call for the extra passes, as given to ``explain``.
    device : str or torch.device, optional
        Where to run the probe; the model's own device by default.

    Returns
    -------
    PerturbationCost
        Its ``str`` is a sentence to show before the run.
    """
    setup = RunSetup.prepare(
        model,
        layer,
        method=method,
        precision="fp32",
        device=device,
        perturbation_batch_size=perturbation_batch_size,
    )
    if setup.map_of is not None:
        return PerturbationCost(method, samples, channels=0, model_calls=0)
    channels, one_tensor = _probe(setup, spatial)
    per_batch = setup.batch_size(batch_size, default=samples)
    side_by_side = one_tensor and not setup.fixed_batch_size
    calls = 0
    for start in range(0, samples, per_batch):
        n_samples = setup.fixed_batch_size or min(per_batch, samples - start)
        per_call = channels_per_call(setup.perturbation_batch_size, n_samples, side_by_side)
        calls += model_calls(channels, per_call)
    return PerturbationCost(method, samples, channels, calls)


def _probe(setup: RunSetup, spatial: tuple[int, ...]) -> tuple[int, bool]:
    """The layer's channels, and whether the model's output is one tensor, from one run
    on zeros (with the same checks and messages as before any real run)."""
    shapes: list[tuple[int, ...]] = []
    handle = setup.module.register_forward_hook(
        lambda module, args, output: shapes.append(tuple(output.shape))
    )
    try:
        output_shape = check_input_fits(setup, spatial)
    finally:
        handle.remove()
    return shapes[0][1], output_shape != ()
