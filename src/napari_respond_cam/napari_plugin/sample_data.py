"""napari sample data: a simulated tomogram with its ground truth, made on the fly.

File > Open Sample > Respond-CAM shows the whole story without any file: the
tomogram as an Image layer in ångström, and a Labels layer marking every particle
with its class index + 1 (the class names are in the layer's metadata).
"""

from __future__ import annotations

from typing import Any

# npe2 imports this module only when the sample is opened: napari's start-up stays light.
from ..simulation import (
    BACKGROUND_CLASS,
    SAMPLE_MARGIN,
    SAMPLE_PARTICLES,
    SAMPLE_SEED,
    SAMPLE_SHAPE,
    SAMPLE_SNR,
    simulate_tomogram,
)

LayerDataTuple = tuple[Any, dict[str, Any], str]


def simulated_tomogram() -> list[LayerDataTuple]:
    """The simulated tomogram and its ground-truth labels, as napari layer data.

    Returns
    -------
    list of tuple
        ``[(volume, kwargs, "image"), (labels, kwargs, "labels")]``, both with the
        voxel size (11.4 Å) as ``scale`` and ångström units.
    """
    tomogram = simulate_tomogram(
        SAMPLE_SHAPE, SAMPLE_PARTICLES, snr=SAMPLE_SNR, seed=SAMPLE_SEED, margin=SAMPLE_MARGIN
    )
    geometry = {"scale": (tomogram.voxel_size_a,) * 3, "units": ("angstrom",) * 3}
    class_names = list(tomogram.class_names)
    image = {
        "name": "simulated tomogram",
        **geometry,
        "metadata": {"class_names": class_names, "simulation_seed": SAMPLE_SEED},
    }
    labels = {
        "name": "ground truth",
        **geometry,
        "opacity": 0.4,
        # napari shows a label's features in the status bar: hovering names the class.
        "features": {
            "index": list(range(len(class_names) + 1)),
            "class": [BACKGROUND_CLASS, *class_names],
        },
        # Hidden at first so the tomogram (and later the heatmap) is what one sees.
        "visible": False,
        "metadata": {
            "class_names": class_names,
            "label_names": {i + 1: name for i, name in enumerate(class_names)},
            "particles": {
                "positions_zyx": tomogram.particles.positions.tolist(),
                "class_index": tomogram.particles.class_indices.tolist(),
            },
        },
    }
    return [(tomogram.volume, image, "image"), (tomogram.labels, labels, "labels")]
