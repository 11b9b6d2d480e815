"""The names users choose from: CAM methods, precisions, and the all-classes target.

Torch-free, so that the command line's ``--help`` and the widget's pickers list them
without importing torch. The engine maps each name to its implementation
(``cam_weights``, ``precision``, ``targets``); tests check that the maps cover these
names exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

#: CAM method names the engine takes, and the label shown to users for each.
METHOD_LABELS = {
    "respond": "Respond-CAM",
    "grad": "Grad-CAM",
    "gradpp": "Grad-CAM++",
    "xgrad": "XGrad-CAM",
    "hires": "HiResCAM",
    "layercam": "LayerCAM",
    "eigen": "Eigen-CAM",
    "ablation": "Ablation-CAM",
}
DEFAULT_METHOD = "respond"
#: Methods whose channel weights are another's: XGrad-CAM's are Respond-CAM's but for
#: its epsilon (Fu et al., 2020, derived the same rule another way).
SAME_WEIGHTS = {"xgrad": "respond"}


def same_weights_note(methods: Sequence[str]) -> str | None:
    """A sentence for compared methods whose maps agree by construction; else None."""
    pairs = [(m, SAME_WEIGHTS[m]) for m in methods if SAME_WEIGHTS.get(m) in methods]
    if not pairs:
        return None
    named = "; ".join(f"{METHOD_LABELS[a]} and {METHOD_LABELS[b]}" for a, b in pairs)
    return (
        f"{named}: the same channel weights (sum of A·G over sum of A), so their maps "
        "and numbers agree but for rounding."
    )


#: Methods that run the model again on perturbed copies of each sample, on top of the
#: one forward and one backward pass: their cost is worth stating before a run.
PERTURBATION_METHODS = frozenset({"ablation"})

#: Precision names: full float32, or the forward pass under bfloat16 / float16 autocast.
PRECISIONS = ("fp32", "bf16", "fp16")
DEFAULT_PRECISION = "fp32"

#: The ``target`` that explains every class of a classifier.
ALL_CLASSES = "all"
