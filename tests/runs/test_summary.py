"""The results area's text and the heatmap metadata, from hand-made numbers."""

import numpy as np

from napari_respond_cam.runs.summary import (
    ResultSummary,
    ScoreCheck,
    predicted_class,
    summarise_region,
    summary_metadata,
    summary_text,
)
from napari_respond_cam.tiling.window_predictions import WindowPredictions

ONE = ResultSummary(
    class_names=("ribosome", "membrane"),
    probabilities=(0.25, 0.75),
    checks=(ScoreCheck("membrane", 2.5, 2.0, 0.5, 0.0),),
)
TILED = ResultSummary(
    class_names=("ribosome", "membrane"),
    probabilities=(0.6, 0.4),
    checks=(ScoreCheck("ribosome, best window at (0, 8, 8)", 3.0, 1.0, 2.0, 0.0),),
    n_windows=12,
    window_votes={"ribosome": 7, "membrane": 5},
)


def test_one_volume_shows_prediction_probabilities_and_check():
    assert summary_text(ONE).splitlines() == [
        "Predicted: membrane (p = 0.750)",
        "  ribosome: 0.250",
        "  membrane: 0.750",
        "Sum-to-score (CAM sum vs score):",
        "  membrane: score 2.5, CAM sum 2, bias 0.5, sum − (score − bias) = 0",
    ]
    assert predicted_class(ONE) == "membrane"


def test_tiled_volume_shows_votes_and_mean_probabilities():
    lines = summary_text(TILED).splitlines()
    assert lines[0] == "12 windows; predicted per window: ribosome 7, membrane 5"
    assert lines[1] == "Mean probabilities over windows (highest: ribosome):"
    assert lines[-1].startswith("  ribosome, best window at (0, 8, 8): score 3, CAM sum 1")


def test_check_without_bias_shows_score_and_sum_only():
    summary = ResultSummary(("a",), (1.0,), (ScoreCheck("a", 1.0, 0.5, None, None),))
    assert summary_text(summary).splitlines()[-1] == "  a: score 1, CAM sum 0.5"


def test_metadata_holds_plain_numbers():
    assert summary_metadata(TILED) == {
        "predicted_class": "ribosome",
        "class_probabilities": {"ribosome": 0.6, "membrane": 0.4},
        "n_windows": 12,
        "window_votes": {"ribosome": 7, "membrane": 5},
        "notes": [],
        "sum_to_score": [
            {
                "class": "ribosome, best window at (0, 8, 8)",
                "score": 3.0,
                "cam_sum": 1.0,
                "bias": 2.0,
                "residual": 0.0,
            }
        ],
    }


def test_a_region_run_says_its_choices_then_its_whole_volume_check():
    windows = WindowPredictions(
        starts=np.zeros((3, 3), dtype=np.int64),
        window=(8, 8, 8),
        targets=None,
        scores=np.array([4.0, 3.0, 3.0], dtype=np.float32),
        cam_sums=np.array([3.0, 2.5, 2.0], dtype=np.float32),
        bias=np.array([1.0, 0.5, 1.0], dtype=np.float32),
        probabilities=None,
        nonzero_gradient=np.ones(3, dtype=bool),
    )
    notes = ["Channel: membrane.", "Region: label 2."]
    summary = summarise_region(windows, "membrane, label 2", notes)
    assert summary_text(summary).splitlines() == [
        *notes,
        "3 window(s) explained (those touching the region)",
        "Sum-to-score over the whole volume (region score Y, map sum, bias):",
        "  membrane, label 2: score 10, CAM sum 7.5, bias 2.5, sum − (score − bias) = 0",
    ]
    assert summary_metadata(summary)["notes"] == notes
    assert summary_metadata(summary)["sum_to_score"][0]["residual"] == 0.0
