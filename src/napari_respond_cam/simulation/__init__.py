"""Simulated cryo-ET data of real macromolecular complexes, with ground truth.

Subtomograms and tomograms are made, as in the Respond-CAM paper, from densities of PDB and
EMDB structures (:mod:`.templates`), randomly rotated and shifted, then imaged with a
contrast transfer function, a missing wedge and Gaussian noise (:mod:`.imaging`). Pure
NumPy/SciPy, deterministic for a seed.
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
    ParticleTable,
    SimulatedTomogram,
    simulate_tomogram,
)

__all__ = [
    "CTF",
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
