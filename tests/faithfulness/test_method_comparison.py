"""Methods side by side: one explain per method, then the same measures."""

import numpy as np
import pytest
import torch

from array_likes import SlicedOnly
from napari_respond_cam import explain
from napari_respond_cam.engine.options import METHOD_LABELS
from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.faithfulness import (
    compare_methods,
    compare_methods_on_volume,
    measure_faithfulness,
)
from napari_respond_cam.faithfulness.window_faithfulness import measure_volume_faithfulness
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.tiling.explain_volume import explain_volume
from napari_respond_cam.tiling.progress import Cancelled
from napari_respond_cam.tiling.volume_statistics import volume_statistics


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CNN1(num_classes=3, input_size=8, channels=(2, 2, 2, 2), dense=(4, 4))


X = np.random.default_rng(0).normal(size=(2, 1, 8, 8, 8)).astype(np.float32)


def test_rows_hold_each_methods_sum_to_score_error_and_faithfulness(model):
    rows = compare_methods(model, X, "maxpool2", methods=["respond", "grad"], steps=4,
                           mask=np.ones((8, 8, 8)))  # fmt: skip
    assert [row.method for row in rows] == ["respond", "grad"]
    respond, grad = rows
    # Everything after maxpool2 is piecewise linear: Respond-CAM sums to score - bias.
    assert respond.sum_to_score_error < 1e-4
    found = explain(model, X, "maxpool2", method="grad")
    errors = np.abs(found.cam_sums - (found.scores - found.bias)) / np.abs(found.scores)
    assert grad.sum_to_score_error == pytest.approx(errors.mean(), rel=1e-5)
    alone = measure_faithfulness(model, X, found.heatmap, target=found.targets.tolist(), steps=4)
    assert grad.deletion_auc == pytest.approx(alone.deletion_auc.mean())
    assert grad.insertion_auc == pytest.approx(alone.insertion_auc.mean())
    assert grad.road_score == pytest.approx(alone.road_score.mean())
    assert respond.mass_inside == 1.0
    np.testing.assert_array_equal(grad.heatmap, found.heatmap)


def test_every_method_is_compared_by_default(model):
    rows = compare_methods(model, X[:1], "maxpool2", steps=1, road_fractions=(0.5,))
    assert [row.method for row in rows] == list(METHOD_LABELS)


def test_an_unknown_method_is_named_before_any_work(model):
    x = X.copy()
    with pytest.raises(RespondCamError) as raised:
        compare_methods(model, x, "maxpool2", methods=["respond", "score"])
    assert str(raised.value).startswith(
        f"Unknown method(s) 'score'; choose from {', '.join(METHOD_LABELS)} (methods=[...] in "
        "Python, --methods with commas on the command line)."
    )
    np.testing.assert_array_equal(x, X)


def test_a_tomogram_wide_preprocessing_reads_the_volume_statistics_once(model):
    volume = np.random.default_rng(1).normal(2.0, 3.0, size=(12, 12, 12)).astype(np.float32)
    settings = {"window": 8, "stride": 4, "preprocessing": "zscore-tomogram"}
    reads = []
    for methods in (["respond"], ["respond", "grad"]):
        sliced = SlicedOnly(volume)
        rows = compare_methods_on_volume(
            model, sliced, "maxpool2", methods=methods, steps=4, **settings
        )
        reads.append(sliced.reads)
    statistics_alone = SlicedOnly(volume)
    volume_statistics(statistics_alone, "zscore-tomogram")
    per_method = reads[1] - reads[0]
    assert reads[0] - per_method == statistics_alone.reads
    # The same numbers as each method measured on its own, statistics read each time.
    for row in rows:
        heatmap = explain_volume(model, volume, "maxpool2", method=row.method, **settings)
        alone, _ = measure_volume_faithfulness(model, volume, heatmap, steps=4, **settings)
        np.testing.assert_array_equal(row.heatmap, heatmap)
        assert row.deletion_auc == pytest.approx(alone.deletion_auc.mean())
        assert row.road_score == pytest.approx(alone.road_score.mean())


def test_a_volume_comparison_reports_each_window_map_and_curve(model):
    volume = np.random.default_rng(2).normal(size=(8, 8, 12)).astype(np.float32)
    settings = {"methods": ["respond", "grad"], "window": 8, "stride": 4, "steps": 2}
    calls = []
    rows = compare_methods_on_volume(
        model, volume, "maxpool2", progress=lambda *call: calls.append(call), **settings
    )
    # 2 windows, per method: their maps (one batch), then 4 curves per window.
    done = [0, 2, *range(3, 11), 12, *range(13, 21)]
    assert calls == [(n, 20) for n in done]
    quiet = compare_methods_on_volume(model, volume, "maxpool2", **settings)
    for row, same in zip(rows, quiet, strict=True):
        assert row.deletion_auc == same.deletion_auc and row.road_score == same.road_score


def test_a_volume_comparison_stops_when_progress_says_so(model):
    volume = np.random.default_rng(2).normal(size=(8, 8, 12)).astype(np.float32)
    calls = []

    def stop_at_the_first_curve(done, total):
        calls.append(done)
        return done < 3

    was_training = model.training
    with pytest.raises(Cancelled):
        compare_methods_on_volume(
            model, volume, "maxpool2", window=8, progress=stop_at_the_first_curve, steps=2
        )
    assert calls == [0, 2, 3]
    assert model.training == was_training


def test_a_sample_comparison_reports_each_methods_maps_and_each_curve(model):
    calls = []
    compare_methods(model, X, "maxpool2", methods=["respond", "grad"], steps=2,
                    progress=lambda *call: calls.append(call))  # fmt: skip
    # 2 samples, per method: the maps, then 4 curves per sample.
    assert calls == [(n, 18) for n in range(19)]


def test_window_faithfulness_counts_four_curves_per_window(model):
    volume = np.random.default_rng(2).normal(size=(8, 8, 12)).astype(np.float32)
    heatmap = np.ones_like(volume)
    calls = []
    measure_volume_faithfulness(model, volume, heatmap, window=8, stride=4, steps=2,
                                progress=lambda *call: calls.append(call))  # fmt: skip
    assert calls == [(n, 8) for n in range(9)]


def test_a_class_named_is_measured_as_its_index():
    torch.manual_seed(0)
    named = CNN1(num_classes=3, input_size=8, channels=(2, 2, 2, 2), dense=(4, 4)).eval()
    named.class_names = ("ribosome", "proteasome", "membrane")
    by_name = compare_methods(named, X, "maxpool2", methods=["respond"], target="proteasome")
    by_index = compare_methods(named, X, "maxpool2", methods=["respond"], target=1)
    assert by_name[0].deletion_auc == by_index[0].deletion_auc
    heatmap = explain(named, X, "maxpool2", target=1).heatmap
    curves = measure_faithfulness(named, X, heatmap, target="proteasome", steps=4)
    np.testing.assert_array_equal(
        curves.deletion.auc, measure_faithfulness(named, X, heatmap, target=1, steps=4).deletion.auc
    )
