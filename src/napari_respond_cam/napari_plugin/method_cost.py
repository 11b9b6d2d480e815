"""What a perturbation method (Ablation-CAM) will cost on the picked volume, said before it runs.

The windows the run would explain are counted as the tiler cuts them (one sample
when the volume is the model's input), and the engine states the extra forward
passes for that many samples. Gradient methods cost nothing extra and are not stated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine.options import PERTURBATION_METHODS
from ..errors import RespondCamError
from ..runs.choices import model_input_size
from ..runs.explain_run import explained_in_one_pass


def cost_sentence(
    model: Any,
    layer: str,
    method: str,
    shape: Sequence[int],
    window: int,
    stride: int,
    batch_size: int,
    binning: int = 1,
    dense: bool = False,
) -> str | None:
    """The extra forward passes ``method`` takes on a volume of ``shape``, in words;
    ``None`` for a method that takes none, or settings the run would refuse anyway
    (its own message then says why).

    For a dense model the windows the region does not touch are not run, so the
    count is an upper bound and the sentence says so.
    """
    if method not in PERTURBATION_METHODS:
        return None
    from ..engine.perturbation_cost import perturbation_cost
    from ..tiling.windows import window_grid

    seen = tuple(max(1, n // binning) for n in shape)
    size = model_input_size(model)
    sides = size or (window,) * len(seen)
    try:
        if explained_in_one_pass(seen, model, sides):
            spatial, samples = tuple(size or seen), 1
        else:
            spatial, samples = tuple(sides), len(window_grid(seen, sides, stride))
        cost = perturbation_cost(
            model, layer, spatial, samples=samples, method=method, batch_size=batch_size
        )
    except RespondCamError:
        return None
    sentence = str(cost)
    if dense:
        sentence += " At most: windows the region does not touch are not run."
    return sentence
