"""A tomogram's windows are measured as the samples the tiler would cut."""

import numpy as np
import pytest
import torch
from box_models import BoxSum

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.faithfulness import measure_faithfulness, measure_volume_faithfulness


def scene(seed, length):
    """A random volume ``(4, 4, length)``, a random map on it, and a model summing a box."""
    rng = np.random.default_rng(seed)
    volume = rng.uniform(0, 1, size=(4, 4, length)).astype(np.float32)
    heatmap = rng.normal(size=(4, 4, length)).astype(np.float32)
    box = torch.zeros(4, 4, 4)
    box[1:3, 1:3, 1:3] = 1
    return volume, heatmap, BoxSum(box)


def test_each_window_is_measured_as_its_cut_sample_and_map():
    volume, heatmap, model = scene(0, 6)
    result, starts = measure_volume_faithfulness(
        model, volume, heatmap, target=0, window=4, stride=2, steps=4
    )
    np.testing.assert_array_equal(starts, [[0, 0, 0], [0, 0, 2]])
    windows = np.stack([volume[None, :, :, 0:4], volume[None, :, :, 2:6]])
    maps = np.stack([heatmap[:, :, 0:4], heatmap[:, :, 2:6]])
    alone = measure_faithfulness(model, windows, maps, target=0, steps=4)
    np.testing.assert_allclose(result.deletion.scores, alone.deletion.scores, rtol=1e-6)
    np.testing.assert_allclose(result.insertion_auc, alone.insertion_auc, rtol=1e-6)
    np.testing.assert_allclose(result.road_score, alone.road_score, rtol=1e-5, atol=1e-6)


def test_the_windows_asked_for_are_measured_as_in_a_full_measure():
    volume, heatmap, model = scene(1, 10)
    kwargs = {"target": 0, "window": 4, "stride": 2, "steps": 4}
    every, starts = measure_volume_faithfulness(model, volume, heatmap, **kwargs)
    some, some_starts = measure_volume_faithfulness(
        model, volume, heatmap, windows=[1, 3], **kwargs
    )
    assert len(starts) == 4
    np.testing.assert_array_equal(some_starts, starts[[1, 3]])
    np.testing.assert_allclose(some.deletion_auc, every.deletion_auc[[1, 3]], rtol=1e-6)
    np.testing.assert_allclose(some.insertion_auc, every.insertion_auc[[1, 3]], rtol=1e-6)
    # ROAD's imputation noise is drawn per group of windows measured together: close only.
    np.testing.assert_allclose(some.road_score, every.road_score[[1, 3]], atol=0.01)
    for wrong in ([], [3, 1], [4], [0.5]):
        with pytest.raises(RespondCamError, match="window numbers"):
            measure_volume_faithfulness(model, volume, heatmap, windows=wrong, **kwargs)


def test_a_heatmap_of_another_grid_is_refused_and_nothing_changes():
    volume = np.ones((4, 4, 6), np.float32)
    heatmap = np.ones((4, 4, 5), np.float32)
    with pytest.raises(RespondCamError) as raised:
        measure_volume_faithfulness(BoxSum(torch.ones(4, 4, 4)), volume, heatmap, window=4)
    assert str(raised.value) == (
        "The heatmap has shape (4, 4, 5) but the volume's grid is (4, 4, 6); pass the map "
        "explain_volume made of this volume."
    )
    assert (volume == 1).all() and (heatmap == 1).all()
