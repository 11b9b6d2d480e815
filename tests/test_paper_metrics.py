import numpy as np
import pytest
import torch

from napari_respond_cam import Explanation
from napari_respond_cam.paper_metrics import (
    enrichment,
    measured_by,
    positive_mass_inside,
    replace_section,
    sum_to_score_l1,
    sum_to_score_tau,
    write_section,
)


def explanation(cam_sums, scores, bias) -> Explanation:
    """One-voxel maps whose sums are ``cam_sums`` (N, K)."""
    cam = np.asarray(cam_sums, dtype=np.float32)[..., None]
    scores = np.asarray(scores, dtype=np.float32)
    return Explanation(cam, cam, scores, scores, np.arange(scores.shape[1]),
                       np.asarray(bias, dtype=np.float32), "respond", "layer")  # fmt: skip


def test_l1_by_hand_with_and_without_bias():
    e = explanation([[1.0, 2.0, 3.0]], [[2.0, 2.0, 5.0]], [[1.0, 0.0, 2.0]])
    assert sum_to_score_l1(e)[0] == pytest.approx((1 + 0 + 2) / 3)
    assert sum_to_score_l1(e, subtract_bias=True)[0] == pytest.approx(0.0)


def test_kendall_tau_by_hand():
    # sums order classes 0 < 1 < 2; scores order them 0 < 2 < 1: one discordant pair of three
    e = explanation([[1.0, 2.0, 3.0]], [[0.0, 9.0, 5.0]], [[0.0, 0.0, 0.0]])
    assert sum_to_score_tau(e)[0] == pytest.approx(1 / 3)
    e = explanation([[1.0, 2.0, 3.0]], [[3.0, 2.0, 1.0]], [[0.0, 0.0, 0.0]])
    assert sum_to_score_tau(e)[0] == pytest.approx(-1.0)


def test_sum_to_score_needs_all_classes():
    e = Explanation(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(2), np.zeros((2, 4)),
                    np.zeros(2), np.zeros(2), "respond", "l")  # fmt: skip
    with pytest.raises(ValueError, match="target='all'"):
        sum_to_score_l1(e)


def test_positive_mass_inside_by_hand():
    heatmaps = np.array([[1.0, 3.0, -5.0, 0.0], [-1.0, -2.0, -3.0, -4.0]])
    masks = np.array([[True, False, True, False], [True, True, False, False]])
    shares = positive_mass_inside(heatmaps, masks)
    assert shares[0] == pytest.approx(0.25)  # negative evidence inside the mask is ignored
    assert np.isnan(shares[1])


def test_enrichment_by_hand():
    heatmap = np.array([[4.0, 1.0], [-7.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    region = np.zeros((4, 2), dtype=bool)
    region[0, 0] = region[1, 0] = True  # a quarter of the volume
    # positive mass 8, of which 4 inside: a half, twice the region's share of a quarter
    assert enrichment(heatmap, region) == pytest.approx(2.0)
    assert np.isnan(enrichment(-np.abs(heatmap), region))
    assert heatmap[1, 0] == -7.0  # the map is not clipped in place


def test_replace_section_appends_then_replaces_only_its_own_part():
    document = replace_section("# Title\n", "a", "table A")
    assert document == "# Title\n\n<!-- begin a -->\ntable A\n<!-- end a -->\n"
    document = replace_section(document, "b", "table B\n")
    document = replace_section(document, "a", "new A")
    assert document == (
        "# Title\n\n<!-- begin a -->\nnew A\n<!-- end a -->\n\n"
        "<!-- begin b -->\ntable B\n<!-- end b -->\n"
    )
    assert replace_section("", "a", "x") == "<!-- begin a -->\nx\n<!-- end a -->\n"


def test_write_section_creates_the_file_then_keeps_the_other_sections(tmp_path):
    path = tmp_path / "measurements.md"
    write_section(path, "a", "table A")
    write_section(path, "b", "table B")
    write_section(path, "a", "new A")
    assert path.read_text() == (
        "<!-- begin a -->\nnew A\n<!-- end a -->\n\n<!-- begin b -->\ntable B\n<!-- end b -->\n"
    )


def test_a_sections_opening_names_its_command_detail_torch_and_time():
    assert measured_by("python docs/x.py --n 3", 98.6) == (
        f"Measured by `python docs/x.py --n 3` (torch {torch.__version__}, 99 s on CPU).\n\n"
    )
    assert measured_by("python docs/x.py", 4.4, "3 per SNR").startswith(
        f"Measured by `python docs/x.py` (3 per SNR, torch {torch.__version__}, 4 s on CPU)."
    )
