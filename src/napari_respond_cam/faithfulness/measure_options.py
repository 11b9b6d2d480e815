"""The names and defaults users choose from when measuring faithfulness (torch-free).

Like ``engine.options``: the command line's ``--help`` lists them without importing torch.
"""

from __future__ import annotations

MEAN = "mean"
BLUR = "blur"
#: Fill names, and what each puts in place of a removed voxel.
FILL_LABELS = {MEAN: "the sample's mean", BLUR: "a Gaussian-blurred copy of the sample"}
#: The mean by default: a blur keeps a particle's low-resolution shape, which a network
#: trained on low-pass tomograms may still see.
DEFAULT_FILL = MEAN
#: The blur's standard deviation, in voxels.
DEFAULT_BLUR_SIGMA = 4.0

#: Points of a deletion or insertion curve after its start: 5 % of the voxels per step.
DEFAULT_STEPS = 20
#: ROAD's removed fractions, as pytorch-grad-cam's ROADCombined takes them.
DEFAULT_ROAD_FRACTIONS = (0.2, 0.4, 0.6, 0.8)
