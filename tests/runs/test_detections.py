"""Detections from a hand-made record of windows."""

import numpy as np
import pytest

from napari_respond_cam.runs.detections import detections
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
