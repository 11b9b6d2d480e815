"""docs/class_map_windows.py's split: its two parts are explain_volume's map."""

import numpy as np
import pytest

from doc_scripts import doc_script
from napari_respond_cam import explain_volume
from tiny_classifier import noise_volume, tiny_cnn1


@pytest.fixture(scope="module")
def script():
    with doc_script("class_map_windows") as module:
        yield module


def test_the_two_parts_add_up_to_the_every_window_map(script):
    model, volume = tiny_cnn1(), noise_volume((16, 24, 36), seed=4)
    starts, weights, found = script.window_maps(model, volume)
    assert len(starts) == 1 * 2 * 4  # windows of 16 every 8 voxels, the last one flush
    part = np.zeros(len(starts), bool)
    part[[0, 3, 5]] = True
    for k in range(3):
        maps = found.heatmap[:, k]
        halves = [script.blend(maps, starts, weights, volume.shape, p) for p in (part, ~part)]
        whole = explain_volume(model, volume, "maxpool2", target=k)
        np.testing.assert_allclose(halves[0] + halves[1], whole, rtol=1e-4, atol=1e-9)
        assert halves[0].any() and halves[1].any()
