import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.tilt_series import (
    back_project,
    detector_width,
    project,
    tilt_angles,
)


def _point(shape, z, x):
    """A unit mass at (z, x) voxels from the centre of the XZ plane, on every Y row."""
    volume = np.zeros(shape, dtype=np.float32)
    volume[(shape[0] - 1) // 2 + z, :, (shape[2] - 1) // 2 + x] = 1
    return volume


def test_tilt_angles_span_the_range_in_steps():
    tilts = tilt_angles(60, 3)
    assert len(tilts) == 41 and tilts[0] == -60 and tilts[-1] == 60
    np.testing.assert_allclose(np.diff(tilts), 3)
    full = tilt_angles(None, 3)
    assert len(full) == 60 and full[0] == -90 and full[-1] == 87


def test_bad_tilts_are_refused():
    with pytest.raises(RespondCamError, match=r"maximum tilt angle must be in \(0, 90\]"):
        tilt_angles(120, 3)
    with pytest.raises(RespondCamError, match="tilt step must be > 0"):
        tilt_angles(60, 0)


def test_a_point_lands_where_the_tilt_sends_it():
    shape = (9, 3, 9)
    width = detector_width(shape)  # ceil(hypot(9, 9)) + 2 = 15, centre pixel 7
    assert width == 15
    # x = 2 at 60°: u = 2 cos 60° = 1; z = 2 at 30°: u = 2 sin 30° = 1 (exact pixels).
    series = project(_point(shape, 0, 2), np.array([0.0, 60.0]))
    assert series.shape == (2, 15, 3)
    assert series[0, 9, 0] == pytest.approx(1) and series[1, 8, 0] == pytest.approx(1)
    series = project(_point(shape, 2, 0), np.array([30.0]))
    assert series[0, 8, 1] == pytest.approx(1)
    # Between pixels: x = 1 at 60° gives u = 0.5, split half and half.
    series = project(_point(shape, 0, 1), np.array([60.0]))
    np.testing.assert_allclose(series[0, 7:9, 2], [0.5, 0.5], atol=1e-6)


def test_projection_conserves_the_mass_of_every_row():
    volume = np.random.default_rng(0).random((8, 5, 10)).astype(np.float32)
    series = project(volume, tilt_angles(60, 7.5))
    expected = np.broadcast_to(volume.sum(axis=(0, 2)), (len(series), 5))
    np.testing.assert_allclose(series.sum(axis=1), expected, rtol=1e-5)


def test_a_full_half_turn_reconstructs_a_blob():
    z, _, x = np.indices((24, 4, 24)) - np.array([11.5, 1.5, 11.5])[:, None, None, None]
    blob = np.exp(-(z**2 + x**2) / 18).astype(np.float32)
    tilts = tilt_angles(None, 2)
    reconstruction = back_project(project(blob, tilts), tilts, blob.shape)
    assert np.corrcoef(reconstruction.ravel(), blob.ravel())[0, 1] > 0.99
    assert reconstruction.sum() == pytest.approx(blob.sum(), rel=0.1)


def _plane_wave(shape, kz, kx):
    z, _, x = np.indices(shape)
    return np.cos(2 * np.pi * (kz * z / shape[0] + kx * x / shape[2])).astype(np.float32)


def test_the_missing_wedge_loses_waves_along_the_beam_and_keeps_those_across_it():
    shape = (32, 2, 32)
    tilts = tilt_angles(60, 2)
    across = _plane_wave(shape, 0, 3)  # along x: sampled at every tilt
    along = _plane_wave(shape, 3, 0)  # along z, the beam: inside the missing wedge
    kept = back_project(project(across, tilts), tilts, shape)
    lost = back_project(project(along, tilts), tilts, shape)
    centre = (slice(8, 24), slice(None), slice(8, 24))  # away from the volume's edges
    assert np.corrcoef(kept[centre].ravel(), across[centre].ravel())[0, 1] > 0.9
    assert np.abs(lost[centre]).max() < 0.1 * np.abs(kept[centre]).max()


def test_inputs_are_not_modified():
    volume = np.random.default_rng(1).random((6, 2, 6)).astype(np.float32)
    copy = volume.copy()
    tilts = tilt_angles(60, 10)
    series = project(volume, tilts)
    series_copy = series.copy()
    back_project(series, tilts, volume.shape)
    np.testing.assert_array_equal(volume, copy)
    np.testing.assert_array_equal(series, series_copy)
