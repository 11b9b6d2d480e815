"""docs/method_comparison.py's pieces, on a tiny CNN-1 and a hand-made scene."""

import numpy as np
import pytest

from doc_scripts import doc_script
from napari_respond_cam.engine.options import METHOD_LABELS
from tiny_classifier import noise_volume, tiny_cnn1


@pytest.fixture(scope="module")
def script():
    with doc_script("method_comparison") as module:
        yield module


def test_dilation_grows_a_voxel_into_a_ball_of_radius_two(script):
    region = np.zeros((9, 9, 9), dtype=bool)
    region[4, 4, 4] = True
    grown = script.dilated(region)
    # 1 centre + 6 at distance 1 + 12 at sqrt 2 + 8 at sqrt 3 + 6 at distance 2.
    assert grown.sum() == 33
    distances = np.linalg.norm(np.argwhere(grown) - 4, axis=1)
    assert distances.max() == 2


def test_the_first_particles_of_each_class_are_chosen(script):
    scene = script.Scene("s", None, None, None, np.array([2, 0, 0, 1, 2, 0]))
    assert script.chosen_particles(scene, 1).tolist() == [0, 1, 3]
    assert script.chosen_particles(scene, 2).tolist() == [0, 1, 2, 3, 4]


def test_windows_compared_per_particle_with_the_mask_share_of_one_dilated_voxel(script):
    volume = noise_volume((12, 12, 12))
    labels = np.zeros(volume.shape, dtype=np.int32)
    labels[4, 4, 4] = 2  # one voxel of class 1, in the first particle's window
    positions = np.array([[4, 4, 4], [6, 6, 6]])
    scene = script.Scene("s", volume, labels, positions, np.array([1, 0]))
    before = volume.copy()
    result = script.compare_on_windows(tiny_cnn1(8), scene, np.array([0, 1]), steps=2)
    assert list(result.rows) == list(METHOD_LABELS)
    assert all(len(rows) == 2 for rows in result.rows.values())
    # 33 voxels of an 8^3 window; no voxel of class 0 anywhere.
    np.testing.assert_allclose(result.mask_shares, [33 / 8**3, 0])
    respond = [row.sum_to_score_error for row in result.rows["respond"]]
    grad = [row.sum_to_score_error for row in result.rows["grad"]]
    assert max(respond) < 1e-4 < min(grad)
    # The first window starts at voxel 0: its mask is the ball of radius 2 around (4, 4, 4).
    ball = np.linalg.norm(np.indices((8, 8, 8)) - 4, axis=0) <= 2
    checked = 0
    for method, (first, second) in result.rows.items():
        positive = np.clip(first.heatmap[0], 0, None)
        if positive.sum() > 0:
            expected = positive[ball].sum() / positive.sum()
            np.testing.assert_allclose(first.mass_inside, expected, rtol=1e-6, err_msg=method)
            checked += 1
        assert second.mass_inside == 0 or np.isnan(second.mass_inside), method
    assert checked >= 4
    assert result.named.shape == (2,)
    with np.errstate(invalid="ignore"):  # mass / share is 0 / 0 in the second window
        table = script.window_table("tiny", "s", result).splitlines()
    assert table[0].startswith("**tiny, s**: 2 particle windows")
    assert len(table) == 4 + len(METHOD_LABELS)
    assert table[4].startswith("| Respond-CAM | ")
    np.testing.assert_array_equal(volume, before)


def test_volume_table_gives_mass_and_its_ratio_to_the_share(script):
    found = {("share", 0): 0.1, ("share", 2): 0.2, ("respond", 0): 0.5, ("respond", 2): 0.2}
    found |= {("grad", 0): 0.3, ("grad", 2): float("nan")}
    table = script.volume_table("CNN-1", ["a", "b", "c"], found, ["respond", "grad"])
    assert "| method | a | c | mean ratio |" in table
    assert "| share of the volume | 0.100 | 0.200 | 1 |" in table
    assert "| Respond-CAM | 0.500 (5.0×) | 0.200 (1.0×) | 3.0 |" in table
    # A map with no positive voxel has no mass inside: left out of the mean.
    assert "| Grad-CAM | 0.300 (3.0×) | n/a | 3.0 |" in table


def test_mean_and_std_leave_out_what_is_not_finite_and_say_so(script):
    assert script.mean_std([1.0, 3.0]) == "2 ± 1"
    assert script.mean_std([1.0, 3.0, float("nan")]) == "2 ± 1 (2 of 3)"
    assert script.mean_std([float("nan")]) == "n/a"
