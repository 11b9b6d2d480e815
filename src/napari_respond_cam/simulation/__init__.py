"""Simulated cryo-ET data of real macromolecular complexes, with ground truth.

Tomograms are made, as in the Respond-CAM paper, from densities of PDB and EMDB structures
(:mod:`.templates`), randomly rotated and placed, then imaged as a tilt series with a
contrast transfer function and Gaussian noise, and reconstructed by weighted
back-projection (:mod:`.imaging`, :mod:`.tilt_series`). Subtomograms are windows cut from
such tomograms (:mod:`.windows`, :mod:`.subtomograms`). Pure NumPy/SciPy, deterministic
for a seed.
"""

from napari_respond_cam.simulation.imaging import CTF
from napari_respond_cam.simulation.subtomograms import SubtomogramSet, simulate_subtomograms
from napari_respond_cam.simulation.templates import (
    TEMPLATE_VOXEL_SIZE_A,
    class_names,
    load_templates,
    template_provenance,
)
from napari_respond_cam.simulation.tomograms import (
    SAMPLE_MARGIN,
    SAMPLE_PARTICLES,
    SAMPLE_SEED,
    SAMPLE_SHAPE,
    SAMPLE_SNR,
    ParticleTable,
    SimulatedTomogram,
    simulate_tomogram,
)
from napari_respond_cam.simulation.windows import BACKGROUND_CLASS, LABEL_RADIUS

__all__ = [
    "BACKGROUND_CLASS",
    "CTF",
    "LABEL_RADIUS",
    "SAMPLE_MARGIN",
    "SAMPLE_PARTICLES",
    "SAMPLE_SEED",
    "SAMPLE_SHAPE",
    "SAMPLE_SNR",
    "TEMPLATE_VOXEL_SIZE_A",
    "ParticleTable",
    "SimulatedTomogram",
    "SubtomogramSet",
    "class_names",
    "load_templates",
    "simulate_subtomograms",
    "simulate_tomogram",
    "template_provenance",
]
