"""Deletion and insertion on a model whose score is a box's sum: numbers by hand."""

import numpy as np
import pytest
import torch
from box_models import BoxSum

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.faithfulness import measure_faithfulness

# Voxels 1..8 of a 2x2x2 sample; the box is the last two (7 and 8), so the score is 15
# and the mean fill is 4.5: the box filled scores 9.
X = np.arange(1, 9, dtype=np.float32).reshape(1, 1, 2, 2, 2)
BOX = torch.zeros(2, 2, 2)
BOX[1, 1] = 1
RIGHT = BOX.numpy()[None]  # the box first
WRONG = -RIGHT  # the box last


def measured(maps, **kwargs):
    return measure_faithfulness(BoxSum(BOX), X, maps, target=0, steps=4, **kwargs)


def test_deletion_falls_at_once_for_the_right_map_and_last_for_the_wrong_one():
    right, wrong = measured(RIGHT), measured(WRONG)
    np.testing.assert_allclose(right.deletion.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(right.deletion.scores, [[15, 9, 9, 9, 9]])
    np.testing.assert_allclose(wrong.deletion.scores, [[15, 15, 15, 15, 9]])
    # 0.25 * ((15 + 9) / 2 + 9 + 9 + 9) and 0.25 * (15 + 15 + 15 + (15 + 9) / 2)
    np.testing.assert_allclose(right.deletion_auc, [9.75])
    np.testing.assert_allclose(wrong.deletion_auc, [14.25])


def test_insertion_is_the_mirror():
    right, wrong = measured(RIGHT), measured(WRONG)
    np.testing.assert_allclose(right.insertion.scores, [[9, 15, 15, 15, 15]])
    np.testing.assert_allclose(wrong.insertion.scores, [[9, 9, 9, 9, 15]])
    np.testing.assert_allclose(right.insertion_auc, [14.25])
    np.testing.assert_allclose(wrong.insertion_auc, [9.75])


def test_probabilities_follow_the_target_class():
    curve = measured(RIGHT, probabilities=True).deletion
    np.testing.assert_allclose(curve.probabilities, 1 / (1 + np.exp(-curve.scores)), rtol=1e-6)
    assert measured(RIGHT).deletion.probabilities is None


def test_a_blur_fill_replaces_voxels_by_the_blurred_sample():
    # A blur of a sample whose voxels are all equal leaves it equal: removing changes nothing.
    flat = np.full((1, 1, 2, 2, 2), 3.0, np.float32)
    result = measure_faithfulness(BoxSum(BOX), flat, RIGHT, target=0, steps=2, fill="blur")
    np.testing.assert_allclose(result.deletion.scores, [[6, 6, 6]], rtol=1e-6)


def test_the_right_map_beats_a_random_one_on_a_larger_sample():
    rng = np.random.default_rng(1)
    box = torch.zeros(8, 8, 8)
    box[:3, :3, :3] = 1
    # A bright particle in the box, on a dimmer background.
    x = (rng.uniform(0, 1, size=(1, 1, 8, 8, 8)) + 3 * box.numpy()).astype(np.float32)
    model = BoxSum(box)
    right = measure_faithfulness(model, x, box.numpy()[None], target=0, steps=8)
    noise = measure_faithfulness(model, x, rng.normal(size=(1, 8, 8, 8)), target=0, steps=8)
    # The first step (64 voxels) removes the whole box: the curve drops from the score
    # to 27 voxels of the mean and stays there.
    score, filled = float(x[0, 0, :3, :3, :3].sum()), 27 * float(x.mean())
    np.testing.assert_allclose(right.deletion_auc, [(score + filled) / 2 / 8 + 7 / 8 * filled])
    assert right.deletion_auc[0] < noise.deletion_auc[0] - 20
    assert right.insertion_auc[0] > noise.insertion_auc[0] + 20


def test_the_predicted_class_is_fixed_on_the_unperturbed_sample():
    # The box holds 1 and 1, the rest -10: class 0 wins (2 > 0). The mean fill is
    # (2 - 60) / 8 = -7.25, so with the box removed class 1 would win (-14.5 < 0), but
    # the curve keeps following class 0.
    x = np.full((1, 1, 2, 2, 2), -10.0, np.float32)
    x[0, 0, 1, 1] = 1.0
    result = measure_faithfulness(BoxSum(BOX), x, RIGHT, steps=4)
    np.testing.assert_allclose(result.deletion.scores, [[2, -14.5, -14.5, -14.5, -14.5]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"maps": np.zeros((1, 2, 2))}, "The maps have shape (1, 2, 2) but the inputs need"),
        ({"steps": 0}, "steps must be a positive int"),
        ({"fill": "zero"}, "Unknown fill 'zero'"),
        ({"target": "all"}, "not 'all'; measure one class at a time"),
        ({"road_fractions": (0.5, 1.0)}, "strictly between 0 and 1"),
    ],
)
def test_mistakes_are_explained_and_the_input_is_kept(kwargs, message):
    x = X.copy()
    maps = kwargs.pop("maps", RIGHT)
    with pytest.raises(RespondCamError, match=None) as raised:
        measure_faithfulness(BoxSum(BOX), x, maps, **{"target": 0, **kwargs})
    assert message in str(raised.value)
    np.testing.assert_array_equal(x, X)
