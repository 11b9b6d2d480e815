"""Particle templates: noise-free densities of five real macromolecular complexes.

All templates share one voxel size, ``TEMPLATE_VOXEL_SIZE_A`` = 11.4 Å, the native voxel
size of the only experimental map among them (EMDB EMD-3197), so that map is used without
interpolation. At 11.4 Å the largest complex (the spliceosome, 330 Å across) spans about
30 voxels and fits a 40^3 subtomogram in any orientation with room for a small shift.

Each template is a ``TEMPLATE_BOX``^3 cube (ZYX) with the particle's centre of mass (for
the lattice, the centre of its spherical patch) at the central voxel, blurred to 30 Å
resolution (Nyquist at 11.4 Å/voxel is 22.8 Å) and scaled so that its maximum is 1. The
particle mask is ``density > MASK_LEVEL``. ``templates.json`` records, for each class, the
source (PDB/EMDB id, licence CC0), the model's resolution, how the density was made and
the mask's extent.
``python tools/make_templates.py`` regenerates both files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import affine_transform
from scipy.spatial.transform import Rotation

from napari_respond_cam.errors import RespondCamError

TEMPLATE_VOXEL_SIZE_A: float = 11.4
TEMPLATE_BOX: int = 35
MASK_LEVEL: float = 0.1

_CLASS_NAMES = (
    "apoferritin",
    "spliceosome",
    "ribosome_70s",
    "sh1_capsid_unit",
    "membrane_lattice",
)
_FOLDER = Path(__file__).parent
TEMPLATES_FILE = _FOLDER / "templates.npz"
PROVENANCE_FILE = _FOLDER / "templates.json"


def class_names() -> tuple[str, ...]:
    """Names of the template classes, in the order that defines class indices.

    Returns
    -------
    tuple of str
        ``("apoferritin", "spliceosome", "ribosome_70s", "sh1_capsid_unit",
        "membrane_lattice")``.
    """
    return _CLASS_NAMES


def select_classes(classes: Sequence[str] | str | None) -> tuple[str, ...]:
    """Check a user's choice of classes.

    Parameters
    ----------
    classes : sequence of str, str or None
        Distinct names among :func:`class_names`; ``None`` for all.

    Returns
    -------
    tuple of str
        The chosen names, in the order given (which defines their labels).
    """
    if classes is None:
        return _CLASS_NAMES
    names = (classes,) if isinstance(classes, str) else tuple(classes)
    unknown = [name for name in names if name not in _CLASS_NAMES]
    if unknown or not names or len(set(names)) != len(names):
        raise RespondCamError(
            f"classes must be distinct names among {list(_CLASS_NAMES)}, got {list(names)}; "
            "pass None for all of them."
        )
    return names


def load_templates() -> dict[str, np.ndarray]:
    """Load the shipped particle templates.

    Returns
    -------
    dict of str to numpy.ndarray
        One float32 ``(TEMPLATE_BOX,) * 3`` ZYX array per class, in the order of
        :func:`class_names`, at ``TEMPLATE_VOXEL_SIZE_A`` Å per voxel, maximum 1.
        The arrays are fresh copies: changing them does not change later loads.
    """
    return {name: array.copy() for name, array in _cached_templates().items()}


def template_provenance() -> dict:
    """Where each template comes from and how it was made (the contents of templates.json).

    Returns
    -------
    dict
        Global settings (voxel size, resolution, box) and a ``"classes"`` mapping from
        class name to its source, licence, method and extent.
    """
    return json.loads(PROVENANCE_FILE.read_text(encoding="utf-8"))


def particle_mask(density: np.ndarray) -> np.ndarray:
    """Ground-truth particle mask of a (possibly rotated) template density.

    Parameters
    ----------
    density : numpy.ndarray
        Density on the template scale (maximum 1 before interpolation).

    Returns
    -------
    numpy.ndarray
        Boolean array, True where ``density > MASK_LEVEL``.
    """
    return density > MASK_LEVEL


def random_rotations(n: int, rng: np.random.Generator) -> Rotation:
    """Draw ``n`` rotations uniformly from SO(3).

    Normalised 4D Gaussian vectors are uniform on the unit quaternion sphere, which is the
    uniform (Haar) distribution on rotations; drawing them from ``rng`` directly keeps the
    result identical across SciPy versions.
    """
    quaternions = rng.standard_normal((n, 4))
    return Rotation.from_quat(quaternions / np.linalg.norm(quaternions, axis=1, keepdims=True))


def rotate_template(
    template: np.ndarray,
    rotation: Rotation,
    shape: tuple[int, int, int],
    offset_zyx: np.ndarray | tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """Resample a rotated, shifted template onto a new grid.

    Parameters
    ----------
    template : numpy.ndarray
        ZYX template with its centre at the central voxel.
    rotation : scipy.spatial.transform.Rotation
        A single rotation acting on (x, y, z) vectors: a template point at offset ``v``
        from the template centre lands at offset ``rotation.apply(v)`` from the new centre.
    shape : tuple of int
        Output shape (ZYX).
    offset_zyx : array-like of 3 floats
        Where the particle centre lands, in voxels from the output's central voxel
        (``(shape - 1) / 2``).

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape``, trilinearly interpolated, zero outside the template.
    """
    # ZYX index order is the reverse of the (x, y, z) order Rotation works in.
    inverse_zyx = rotation.as_matrix()[::-1, ::-1].T
    output_centre = (np.asarray(shape) - 1) / 2 + np.asarray(offset_zyx)
    template_centre = (np.asarray(template.shape) - 1) / 2
    return affine_transform(
        template,
        inverse_zyx,
        offset=template_centre - inverse_zyx @ output_centre,
        output_shape=tuple(shape),
        order=1,
        mode="constant",
        cval=0.0,
        prefilter=False,
        output=np.float32,
    )


@lru_cache(maxsize=1)
def _cached_templates() -> dict[str, np.ndarray]:
    if not TEMPLATES_FILE.exists():
        raise RespondCamError(
            f"The particle templates file {TEMPLATES_FILE} is missing; reinstall "
            "napari-respond-cam or regenerate it with "
            "`python tools/make_templates.py`."
        )
    with np.load(TEMPLATES_FILE) as stored:
        missing = [name for name in _CLASS_NAMES if name not in stored.files]
        if missing:
            raise RespondCamError(
                f"{TEMPLATES_FILE} lacks the templates {missing}; regenerate it with "
                "`python tools/make_templates.py`."
            )
        return {name: stored[name].astype(np.float32) for name in _CLASS_NAMES}
