"""ROAD's imputation against hand-solved Laplace equations, and the ROAD score's symmetry."""

import numpy as np
import pytest
import torch
from box_models import BoxSum

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.faithfulness import measure_faithfulness
from napari_respond_cam.faithfulness.road_imputation import impute_removed


def test_two_removed_voxels_on_a_line_solve_the_mean_of_their_neighbours():
    # u = (1 + v) / 2 and v = (u + 7) / 2 give u = 3, v = 5.
    x = torch.tensor([1.0, 0.0, 0.0, 7.0]).reshape(1, 1, 1, 1, 4)
    removed = torch.tensor([False, True, True, False]).reshape(1, 1, 1, 4)
    imputed = impute_removed(x, removed, noise=0)
    np.testing.assert_allclose(imputed.flatten().numpy(), [1, 3, 5, 7], atol=1e-4)
    np.testing.assert_array_equal(x.flatten().numpy(), [1, 0, 0, 7])


def test_the_centre_of_a_cube_is_the_mean_of_its_six_face_neighbours():
    x = torch.arange(27.0).reshape(1, 1, 3, 3, 3)
    removed = torch.zeros(1, 3, 3, 3, dtype=torch.bool)
    removed[0, 1, 1, 1] = True
    imputed = impute_removed(x, removed, noise=0)
    # (4 + 22 + 10 + 16 + 12 + 14) / 6; corners and edges do not count.
    assert float(imputed[0, 0, 1, 1, 1]) == pytest.approx(13.0, abs=1e-4)
    np.testing.assert_array_equal(imputed[~removed[:, None]], x[~removed[:, None]])


def test_a_corner_voxel_takes_the_mean_of_its_three_neighbours_plus_scaled_noise():
    x = torch.arange(8.0).reshape(1, 1, 2, 2, 2)
    removed = torch.zeros(1, 2, 2, 2, dtype=torch.bool)
    removed[0, 0, 0, 0] = True
    imputed = impute_removed(x, removed, 0.5, torch.Generator().manual_seed(3))
    draw = torch.randn((1, 1, 2, 2, 2), generator=torch.Generator().manual_seed(3))
    # (1 + 2 + 4) / 3, plus 0.5 standard deviations of the sample times the draw
    expected = 7 / 3 + 0.5 * float(x.std(unbiased=False)) * float(draw[0, 0, 0, 0, 0])
    assert float(imputed[0, 0, 0, 0, 0]) == pytest.approx(expected, abs=1e-4)


def test_removing_every_voxel_is_refused():
    x = torch.ones(1, 1, 2, 2, 2)
    with pytest.raises(RespondCamError, match="cannot remove every voxel"):
        impute_removed(x, torch.ones(1, 2, 2, 2, dtype=torch.bool))
    assert bool((x == 1).all())


def test_road_is_antisymmetric_in_the_map_and_positive_for_the_right_one():
    rng = np.random.default_rng(2)
    box = torch.zeros(6, 6, 6)
    box[1:4, 1:4, 1:4] = 1
    x = (rng.uniform(0, 1, size=(1, 1, 6, 6, 6)) + 3 * box.numpy()).astype(np.float32)
    model = BoxSum(box)
    right = measure_faithfulness(model, x, box.numpy()[None], target=0, steps=2)
    wrong = measure_faithfulness(model, x, -box.numpy()[None], target=0, steps=2)
    # Most relevant first for one map is least relevant first for its negative.
    np.testing.assert_allclose(right.road_morf.scores, wrong.road_lerf.scores)
    np.testing.assert_allclose(wrong.road_score, -right.road_score)
    assert right.road_score[0] > 10
    np.testing.assert_allclose(right.road_morf.fractions, [0, 0.2, 0.4, 0.6, 0.8], atol=3e-3)
