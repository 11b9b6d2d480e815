"""Detections from a hand-made record of windows."""

import numpy as np
import pytest

from napari_respond_cam.runs.detections import Detections, at_map_peaks, detections, merged
from napari_respond_cam.tiling.window_predictions import WindowPredictions

NAMES = ("background", "ribosome", "proteasome")


def windows(probabilities):
    n = len(probabilities)
    return WindowPredictions(
        starts=np.array([[0, 0, 0], [0, 0, 8], [8, 4, 0]][:n], dtype=np.int64),
        window=(16, 16, 16),
        targets=np.argmax(probabilities, axis=1),
        scores=np.array([1.5, 2.5, 3.5][:n], dtype=np.float32),
        cam_sums=np.zeros(n, dtype=np.float32),
        bias=np.zeros(n, dtype=np.float32),
        probabilities=np.array(probabilities, dtype=np.float32),
        nonzero_gradient=np.ones(n, dtype=bool),
    )


def test_windows_not_called_background_become_detections_at_their_centres():
    record = windows([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6]])
    found = detections(record, NAMES, background_class=0)
    assert len(found) == 2
    # a window of 16 starting at 8 has its centre at 8 + 7.5
    np.testing.assert_array_equal(found.centres, [[7.5, 7.5, 15.5], [15.5, 11.5, 7.5]])
    assert found.class_names == ("ribosome", "proteasome")
    np.testing.assert_array_equal(found.class_indices, [1, 2])
    np.testing.assert_allclose(found.probabilities, [0.7, 0.6])
    np.testing.assert_array_equal(found.scores, [2.5, 3.5])
    features = found.features()
    assert features["class"] == ["ribosome", "proteasome"]
    np.testing.assert_allclose(features["probability"], [0.7, 0.6])


def test_without_a_background_class_every_window_is_a_detection():
    found = detections(windows([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1]]), (), None)
    assert found.class_names == ("class 0", "class 1")
    assert found.probabilities.tolist() == pytest.approx([0.8, 0.7])


def test_a_dense_model_has_no_detections():
    record = windows([[0.8, 0.1, 0.1]])
    dense = WindowPredictions(**{**record.__dict__, "probabilities": None, "targets": None})
    assert detections(dense, NAMES, 0) is None


def _found(centres, classes, probabilities):
    return Detections(
        centres=np.array(centres, dtype=np.float64),
        class_indices=np.array(classes, dtype=np.int64),
        class_names=tuple(NAMES[k] for k in classes),
        probabilities=np.array(probabilities, dtype=np.float32),
        scores=np.arange(len(classes), dtype=np.float32),
    )


def test_a_detection_moves_to_its_class_map_peak_within_reach():
    maps = np.zeros((3, 20, 20, 20), dtype=np.float32)
    maps[1, 12, 9, 6] = 2.0  # ribosome evidence 2 voxels along Z and X from the first
    maps[1, 10, 10, 17] = 5.0  # stronger, but 9 voxels away along X: out of reach
    maps[2, 3, 3, 3] = 1.0  # proteasome evidence, another class's map
    maps[2, 16, 16, 16] = -4.0  # only negative evidence near the third
    found = _found([[10, 9, 8], [4.5, 4.5, 4.5], [15, 15, 15]], [1, 2, 2], [0.9, 0.8, 0.7])
    moved = at_map_peaks(found, lambda k: maps[k], reach=(3, 3, 3))
    np.testing.assert_array_equal(moved.centres, [[12, 9, 6], [3, 3, 3], [15, 15, 15]])
    assert moved.class_names == found.class_names
    np.testing.assert_array_equal(found.centres[0], [10, 9, 8])  # the input is kept


def test_detections_of_one_object_are_merged_keeping_the_most_probable():
    found = _found(
        [[10, 10, 10], [10, 10, 13], [10, 10, 12], [10, 10, 30]],
        [1, 1, 2, 1],
        [0.6, 0.9, 0.5, 0.4],
    )
    kept = merged(found, radius=3)
    # 0 and 1 are 3 voxels apart (one object: 1 is more probable); 2 is another class;
    # 3 is 17 voxels from 1.
    np.testing.assert_array_equal(kept.centres, [[10, 10, 13], [10, 10, 12], [10, 10, 30]])
    assert kept.class_names == ("ribosome", "proteasome", "ribosome")
    np.testing.assert_allclose(kept.probabilities, [0.9, 0.5, 0.4])
    np.testing.assert_array_equal(kept.scores, [1, 2, 3])
    assert len(merged(found, radius=2.9)) == 4


def test_a_detection_without_a_map_of_its_class_stays_at_its_window_centre():
    maps = {1: np.ones((8, 8, 8), dtype=np.float32)}
    maps[1][0, 0, 0] = 3.0
    found = _found([[2, 2, 2], [2, 2, 2]], [1, 2], [0.9, 0.8])
    moved = at_map_peaks(found, maps.get, reach=(2, 2, 2))
    np.testing.assert_array_equal(moved.centres, [[0, 0, 0], [2, 2, 2]])


def test_merging_many_detections_keeps_one_per_object():
    # 400 objects on a lattice 10 voxels apart, each seen by three windows within 2 voxels.
    lattice = np.stack(np.meshgrid(*[np.arange(0, 100, 10)] * 2, np.arange(0, 40, 10),
                                   indexing="ij"), -1).reshape(-1, 3)  # fmt: skip
    along_z, along_x = np.array([2, 0, 0]), np.array([0, 0, 1])
    centres = np.concatenate([lattice, lattice + along_z, lattice + along_x])
    probabilities = np.concatenate([np.full(400, 0.5), np.full(400, 0.9), np.full(400, 0.7)])
    found = _found(centres, [1] * 1200, probabilities)
    kept = merged(found, radius=3)
    np.testing.assert_array_equal(kept.centres, lattice + along_z)
    assert (kept.probabilities == np.float32(0.9)).all()
