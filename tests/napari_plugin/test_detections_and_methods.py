"""A tiled classifier's detections as points, every method, Ablation-CAM's cost, Compare methods."""

import numpy as np
import pytest
import torch

from napari_respond_cam import explain, explain_volume, register_model
from napari_respond_cam.engine.options import METHOD_LABELS
from napari_respond_cam.faithfulness import compare_methods
from napari_respond_cam.napari_plugin.detections_layer import (
    DETECTIONS_KEY,
    detections_layer_data,
    hide_detections,
    show_detections,
)
from napari_respond_cam.napari_plugin.heatmap_layer import (
    METADATA_KEY,
    LayerGeometry,
    is_heatmap_layer,
)
from napari_respond_cam.runs.detections import Detections, detections
from tiny_classifier import CLASSES, noise_volume, tiny_cnn1

pytestmark = pytest.mark.gui

SCALE = (11.4, 11.4, 11.4)
TRANSLATE = (0.0, 0.0, -22.8)
RUN_TIMEOUT_MS = 60_000


def add_tomogram(viewer, shape, seed=0):
    return viewer.add_image(
        noise_volume(shape, seed=seed), name="tomo", scale=SCALE, translate=TRANSLATE
    )


def click(widget, button, qtbot):
    button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)


def heatmaps(viewer):
    return [layer for layer in viewer.layers if is_heatmap_layer(layer)]


def test_detections_of_a_tiled_run_are_points_with_class_probability_and_score(
    viewer, widget, qtbot
):
    tomo = add_tomogram(viewer, (16, 24, 32), seed=3)
    before = tomo.data.copy()
    model = tiny_cnn1()
    with torch.no_grad():
        # On this noise its 6 windows' logits of class 0 exceed class 1's by 0.4599 to
        # 0.4626: this bias splits them, 4 windows for class 0 and 2 for class 1.
        model.fc3.bias[1] += 0.4615
    votes = explain_volume(model, before, "maxpool2", stride=8, return_windows=True)[1]
    background = 0
    assert np.bincount(votes.predicted).tolist() == [4, 2]
    register_model("tiny-bg", model, class_names=CLASSES, input_shape=(1, 16, 16, 16),
                   background_class=background)  # fmt: skip
    widget.model.reset_choices()
    widget.model.value = "tiny-bg"

    click(widget, widget.explain_button, qtbot)

    expected = detections(votes, CLASSES, background)
    assert len(expected) == 2  # of 6 windows, the 4 called background are left out
    [points] = [la for la in viewer.layers if DETECTIONS_KEY in la.metadata]
    assert points.name == "tomo detections"
    # Each point at its map's peak within half the stride (4) of its window's centre.
    heatmap = viewer.layers["tomo Respond-CAM (predicted class)"].data
    for point, centre in zip(points.data, expected.centres, strict=True):
        low, high = np.floor(centre).astype(int) - 4, np.ceil(centre).astype(int) + 5
        box = heatmap[tuple(slice(max(a, 0), b) for a, b in zip(low, high, strict=True))]
        assert heatmap[tuple(point.astype(int))] == box.max() > 0
        assert np.abs(point - centre).max() <= 4.5
    np.testing.assert_allclose(points.scale, SCALE)
    np.testing.assert_allclose(points.translate, TRANSLATE)
    assert list(points.features.columns) == ["class", "probability", "score"]
    assert list(points.features["class"]) == list(expected.class_names)
    np.testing.assert_allclose(points.features["probability"], expected.probabilities, rtol=1e-5)
    np.testing.assert_allclose(points.features["score"], expected.scores, rtol=1e-5)
    assert CLASSES[background] not in set(points.features["class"])
    first = f"{expected.class_names[0]} {expected.probabilities[0]:.2f}"
    assert points.text.values[0] == first
    # The text starts at the ring's right edge, half a point's size right of its centre.
    np.testing.assert_allclose(points.text.translation[-1], points.size[0] / 2)
    # One colour per class, whichever classes were found.
    colours = {tuple(c) for c in points.border_color}
    assert len(colours) == len(set(expected.class_names))
    results = widget.results.value
    assert (
        f"Windows the model calls {CLASSES[background]} (its background class) add nothing "
        "to the map." in results
    )
    assert f"Detections: {len(expected)} object(s) in windows not called background" in results
    np.testing.assert_array_equal(tomo.data, before)


def test_all_classes_shows_the_likeliest_class_past_the_background(viewer, widget, qtbot):
    tomo = add_tomogram(viewer, (16, 24, 32), seed=3)
    model = tiny_cnn1()
    with torch.no_grad():
        model.fc3.bias[1] += 0.4615  # 4 of the 6 windows class 0 (background), 2 class 1
    register_model("tiny-bg", model, class_names=CLASSES, input_shape=(1, 16, 16, 16),
                   background_class=0, overwrite=True)  # fmt: skip
    widget.model.reset_choices()
    widget.model.value = "tiny-bg"
    widget.target.value = "all classes"
    click(widget, widget.explain_button, qtbot)
    windows = explain_volume(model, tomo.data, "maxpool2", stride=8, return_windows=True)[1]
    probabilities = windows.probabilities.mean(axis=0)
    assert probabilities.argmax() == 0  # the background is the likeliest on average
    expected = 1 + int(probabilities[1:].argmax())
    shown = [layer.name for layer in heatmaps(viewer) if layer.visible]
    assert shown == [f"tomo Respond-CAM ({CLASSES[expected]})"]


def test_detections_of_a_model_without_background_say_every_window_counts(viewer, widget, qtbot):
    add_tomogram(viewer, (16, 24, 32), seed=3)
    click(widget, widget.explain_button, qtbot)
    [points] = [la for la in viewer.layers if DETECTIONS_KEY in la.metadata]
    assert len(points.data) > 0
    assert "in every window (the model names no background class)" in widget.results.value
    assert "not called background" not in widget.results.value


def test_a_new_run_hides_the_volumes_older_heatmaps_and_detections(viewer, widget, qtbot):
    add_tomogram(viewer, (16, 24, 32), seed=3)
    click(widget, widget.explain_button, qtbot)
    [predicted] = heatmaps(viewer)
    [points] = [la for la in viewer.layers if DETECTIONS_KEY in la.metadata]
    assert points.visible

    widget.target.value = "all classes"
    click(widget, widget.explain_button, qtbot)
    assert not predicted.visible  # hidden, not deleted
    assert predicted in viewer.layers
    assert sum(layer.visible for layer in heatmaps(viewer)) == 1
    # Detections come from the predicted-class map only: one list per model and volume.
    assert not points.visible and points in viewer.layers  # the earlier run's, hidden
    before = points.data.copy()

    widget.target.value = CLASSES[1]  # nor does one class's map
    click(widget, widget.explain_button, qtbot)
    assert not points.visible
    np.testing.assert_array_equal(points.data, before)

    widget.target.value = "predicted class"
    click(widget, widget.explain_button, qtbot)
    assert [layer for layer in heatmaps(viewer) if layer.visible] == [predicted]
    assert points.visible  # found again by this run

    other = viewer.add_image(noise_volume((16, 24, 32), seed=1), name="other")
    widget.volume.value = other
    click(widget, widget.explain_button, qtbot)
    assert points.visible  # another volume's run leaves this volume's detections alone


def test_every_method_is_offered_and_ablations_cost_is_stated_before_it_runs(viewer, widget):
    assert widget.method.choices == tuple(METHOD_LABELS)
    add_tomogram(viewer, (16, 16, 32))
    widget.batch_size.value = 2
    assert "Ablation-CAM" not in widget.results.value

    widget.method.value = "ablation"

    # 16^3 windows at stride 8 along x: 3 windows; maxpool2 has 8 channels, so 8 ablated
    # copies each. A batch of 2 windows takes its 16 copies in one call, the last
    # window's 8 in another.
    assert (
        "Ablation-CAM runs the model on 24 more samples (8 channels x 3 samples) in 2 calls"
        in widget.results.value
    )


def test_compare_methods_gives_a_layer_per_method_and_the_table(viewer, widget, qtbot):
    tomo = add_tomogram(viewer, (16, 16, 16))
    before = tomo.data.copy()

    click(widget, widget.compare_button, qtbot)

    layers = heatmaps(viewer)
    labels = list(METHOD_LABELS.values())
    assert [layer.name for layer in layers] == [
        f"tomo (predicted class) compared: {label}" for label in labels
    ]
    assert [layer.visible for layer in layers] == [True] + [False] * (len(labels) - 1)
    results = widget.results.value.splitlines()
    assert results[0] == "Methods compared on 'tomo' (predicted class; one sample):"
    for method, layer, line in zip(METHOD_LABELS, layers, results[1:], strict=False):
        np.testing.assert_allclose(
            layer.data, explain(tiny_cnn1(), before, "maxpool2", method=method).heatmap[0],
            rtol=1e-4, atol=1e-6,
        )  # fmt: skip
        [row] = compare_methods(tiny_cnn1(), before, "maxpool2", methods=[method])
        assert line == (
            f"  {METHOD_LABELS[method]}: sum-to-score error {row.sum_to_score_error:.2g}, "
            f"deletion AUC {row.deletion_auc:.4g}, insertion AUC {row.insertion_auc:.4g}, "
            f"ROAD {row.road_score:.4g}"
        )
        recorded = layer.metadata[METADATA_KEY]["faithfulness"]
        assert recorded["deletion_auc"] == pytest.approx(row.deletion_auc, rel=1e-5)
        assert layer.metadata[METADATA_KEY]["windows"] == "all"
    respond = layers[0].metadata[METADATA_KEY]["faithfulness"]["sum_to_score_error"]
    assert respond < 1e-4  # Respond-CAM's map sums to the score less the bias
    np.testing.assert_array_equal(tomo.data, before)


def test_compare_methods_progress_counts_steps_of_every_method(viewer, widget, qtbot):
    add_tomogram(viewer, (16, 16, 32))  # tiled: windows of 16 every 8 voxels along x
    shown = []
    widget._show_progress = lambda done, total: shown.append((done, total))

    click(widget, widget.compare_button, qtbot)

    assert widget.progress.native.format() == "%v / %m steps"
    assert widget.progress.label == "comparing"
    [total] = {total for _, total in shown}
    windows = 3
    # each method: its map of every window, then four curves per window
    assert total == len(METHOD_LABELS) * (windows + 4 * windows)
    done = [d for d, _ in shown]
    assert done == sorted(done) and done[0] == 0 and done[-1] == total
    assert len(set(done)) > 2 * len(METHOD_LABELS)


def test_compare_methods_for_a_class_measures_the_windows_its_map_holds(viewer, widget, qtbot):
    tomo = add_tomogram(viewer, (16, 24, 32), seed=3)
    model = tiny_cnn1()
    with torch.no_grad():
        model.fc3.bias[1] += 0.4615  # 4 of the 6 windows called class 0, 2 class 1
    votes = explain_volume(model, tomo.data, "maxpool2", stride=8, return_windows=True)[1]
    assert np.bincount(votes.predicted).tolist() == [4, 2]
    register_model("tiny-split", model, class_names=CLASSES, input_shape=(1, 16, 16, 16))
    widget.model.reset_choices()
    widget.model.value = "tiny-split"
    widget.target.value = CLASSES[1]
    assert widget.where_predicted.value  # the default: only the windows called the class

    click(widget, widget.compare_button, qtbot)

    first = widget.results.value.splitlines()[0]
    assert first == (
        f"Methods compared on 'tomo' ({CLASSES[1]}; means over 2 windows, 4 called another "
        "class left out, as explain leaves them out):"
    )
    widget.where_predicted.value = False
    click(widget, widget.compare_button, qtbot)
    assert widget.results.value.splitlines()[0] == (
        f"Methods compared on 'tomo' ({CLASSES[1]}; means over 6 windows):"
    )


def test_compare_methods_refuses_all_classes(viewer, widget, new_notifications):
    add_tomogram(viewer, (16, 16, 16))
    widget.target.value = "all classes"
    widget.compare_button.native.click()
    assert not widget.running
    assert "not 'all classes'" in new_notifications()[-1]
    assert "--target on the command line" in new_notifications()[-1]
    assert heatmaps(viewer) == []


def some_detections(n: int, seed: int) -> Detections:
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 2, n)
    return Detections(
        centres=rng.uniform(0, 30, (n, 3)),
        class_indices=classes,
        class_names=tuple(CLASSES[k] for k in classes),
        probabilities=rng.uniform(0.5, 1, n).astype(np.float32),
        scores=rng.normal(size=n).astype(np.float32),
    )


@pytest.mark.parametrize(("first", "then"), [(99, 30), (30, 99)])
def test_a_later_run_of_fewer_or_more_detections_replaces_the_hidden_layer(viewer, first, then):
    tomo = add_tomogram(viewer, (30, 30, 30))
    geometry = LayerGeometry.of(tomo)

    def shown(n, seed):
        found = some_detections(n, seed)
        data = detections_layer_data(found, geometry, "tomo", CLASSES, point_size=4.0)
        return found, show_detections(viewer, data)

    shown(first, 0)
    viewer.dims.set_point(0, 15 * SCALE[0])
    hide_detections(viewer, "tomo")
    found, layer = shown(then, 1)
    assert [la.name for la in viewer.layers].count("tomo detections") == 1
    assert layer.visible and len(layer.data) == len(layer.features) == then
    np.testing.assert_array_equal(layer.data, found.centres)
    assert list(layer.features["class"]) == list(found.class_names)
    assert len(layer.text.values) == then
    viewer.screenshot(canvas_only=True)  # draws the layer: a stale view would raise here


def test_no_detections_add_no_layer_and_leave_an_earlier_one_hidden(viewer):
    tomo = add_tomogram(viewer, (30, 30, 30))
    geometry = LayerGeometry.of(tomo)

    def layer_data(n):
        return detections_layer_data(some_detections(n, n), geometry, "tomo", CLASSES, 4.0)

    assert show_detections(viewer, layer_data(0)) is None
    assert "tomo detections" not in [la.name for la in viewer.layers]
    earlier = show_detections(viewer, layer_data(5))
    hide_detections(viewer, "tomo")
    assert show_detections(viewer, layer_data(0)) is None
    assert not earlier.visible and len(earlier.data) == 5
