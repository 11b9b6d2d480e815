"""The window control's range: the model's smallest fixed side to the volume's largest."""

from napari_respond_cam.napari_plugin.window_bounds import (
    LARGEST_WINDOW,
    SMALLEST_FREE_WINDOW,
    window_bounds,
)


def test_a_fixed_model_sets_the_minimum_and_the_volume_the_maximum():
    bounds = window_bounds((40, 32, 48), (80, 160, 120), "tomo")
    assert (bounds.minimum, bounds.maximum) == (32, 160)
    assert "at least 32, the smallest side of the model's input" in bounds.tooltip
    assert "at most 160, the largest side of 'tomo'" in bounds.tooltip
    assert "fixed input size" in bounds.tooltip


def test_a_free_model_without_a_volume_keeps_the_widest_range():
    bounds = window_bounds(None, None)
    assert (bounds.minimum, bounds.maximum) == (SMALLEST_FREE_WINDOW, LARGEST_WINDOW)
    assert "fixed" not in bounds.tooltip


def test_a_volume_smaller_than_the_model_input_still_allows_the_input_size():
    bounds = window_bounds((40, 40, 40), (16, 20, 24), "small")
    assert (bounds.minimum, bounds.maximum) == (40, 40)
    assert bounds.tooltip == (
        "Side of the tiles for volumes larger than the model's input: at least 40, the "
        "smallest side of the model's input, and at most that: 'small' (largest side 24) is "
        "smaller, and is padded to it. This model takes a fixed input size, which sets the "
        "window."
    )


def test_a_model_that_takes_other_sizes_than_its_own_offers_any_window():
    bounds = window_bounds((48, 48, 48), (80, 160, 120), "tomo", fixed=False)
    assert (bounds.minimum, bounds.maximum) == (SMALLEST_FREE_WINDOW, 160)
    assert "fixed" not in bounds.tooltip
    assert bounds.tooltip.endswith("was given inputs of 48 x 48 x 48 and takes other sizes too.")
