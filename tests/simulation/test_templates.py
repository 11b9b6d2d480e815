import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.templates import (
    MASK_LEVEL,
    TEMPLATE_BOX,
    TEMPLATE_VOXEL_SIZE_A,
    class_names,
    load_templates,
    particle_mask,
    random_rotations,
    rotate_template,
    select_classes,
    template_provenance,
)

EXPECTED_NAMES = (
    "apoferritin",
    "spliceosome",
    "ribosome_70s",
    "sh1_capsid_unit",
    "membrane_lattice",
)


def _mask_radius(template):
    offsets = np.argwhere(particle_mask(template)) - (TEMPLATE_BOX - 1) / 2
    return np.linalg.norm(offsets, axis=1).max()


def test_class_names_and_templates_agree():
    assert class_names() == EXPECTED_NAMES
    templates = load_templates()
    assert tuple(templates) == EXPECTED_NAMES
    for template in templates.values():
        assert template.dtype == np.float32
        assert template.shape == (TEMPLATE_BOX,) * 3
        assert template.min() >= 0
        assert template.max() == pytest.approx(1.0, abs=1e-3)  # float16 storage


def test_loaded_templates_are_independent_copies():
    first = load_templates()
    first["apoferritin"][:] = 7
    assert load_templates()["apoferritin"].max() == pytest.approx(1.0, abs=1e-3)


def test_every_template_fits_a_40_cube_in_any_orientation_with_a_3_voxel_shift():
    # The cube's faces are 19.5 voxels from its centre.
    radii = {name: _mask_radius(template) for name, template in load_templates().items()}
    assert all(radius + 3 <= 19.5 for radius in radii.values()), radii
    # Real sizes: apoferritin is a 12 nm shell, the spliceosome about 33 nm across.
    assert 5.5 < radii["apoferritin"] < 7
    assert 13.5 < radii["spliceosome"] < 16


def test_templates_differ_by_shape():
    flat = np.stack([t.ravel() for t in load_templates().values()])
    flat -= flat.mean(axis=1, keepdims=True)
    flat /= np.linalg.norm(flat, axis=1, keepdims=True)
    correlation = flat @ flat.T
    off_diagonal = correlation[~np.eye(len(flat), dtype=bool)]
    assert off_diagonal.max() < 0.8


def test_provenance_records_voxel_size_licence_and_source_for_each_class():
    provenance = template_provenance()
    assert provenance["voxel_size_a"] == TEMPLATE_VOXEL_SIZE_A == 11.4
    assert provenance["box_voxels"] == TEMPLATE_BOX
    assert tuple(provenance["classes"]) == EXPECTED_NAMES
    for record in provenance["classes"].values():
        assert record["licence"].startswith("CC0")
        assert record["source"].startswith(("PDB", "EMDB"))
        assert record["diameter_voxels"] <= 32
    assert "asymmetric unit" in provenance["classes"]["sh1_capsid_unit"]["contents"]


def test_particle_mask_thresholds_at_the_mask_level():
    density = np.array([0.0, MASK_LEVEL, MASK_LEVEL + 1e-3, 1.0])
    np.testing.assert_array_equal(particle_mask(density), [False, False, True, True])


def test_identity_rotation_reproduces_the_template():
    template = load_templates()["spliceosome"]
    rotated = rotate_template(template, Rotation.identity(), template.shape)
    np.testing.assert_allclose(rotated, template, atol=1e-6)


def test_quarter_turn_about_z_moves_plus_x_to_plus_y_and_offset_shifts_it():
    template = np.zeros((11, 11, 11), dtype=np.float32)
    template[5, 5, 8] = 1.0  # x = +3 from the centre
    quarter_turn = Rotation.from_euler("z", 90, degrees=True)
    rotated = rotate_template(template, quarter_turn, (11, 11, 11))
    assert rotated[5, 8, 5] == pytest.approx(1.0)  # y = +3
    assert rotated.sum() == pytest.approx(1.0)
    shifted = rotate_template(template, quarter_turn, (11, 11, 11), offset_zyx=(1, -2, 0))
    assert shifted[6, 6, 5] == pytest.approx(1.0)


def test_random_rotations_are_deterministic_and_uniform():
    first = random_rotations(20000, np.random.default_rng(3))
    second = random_rotations(20000, np.random.default_rng(3))
    np.testing.assert_array_equal(first.as_quat(), second.as_quat())
    # The Haar measure's mean rotation matrix is zero.
    assert np.abs(first.as_matrix().mean(axis=0)).max() < 0.03


def test_select_classes_keeps_order_and_rejects_unknown_names():
    assert select_classes(None) == EXPECTED_NAMES
    assert select_classes(["ribosome_70s", "apoferritin"]) == ("ribosome_70s", "apoferritin")
    assert select_classes("apoferritin") == ("apoferritin",)
    with pytest.raises(RespondCamError, match="apoferritin"):
        select_classes(["proteasome"])
    with pytest.raises(RespondCamError):
        select_classes(["apoferritin", "apoferritin"])
