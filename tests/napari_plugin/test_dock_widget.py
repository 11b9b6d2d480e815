"""The dock widget in a napari viewer: pickers, Explain, Cancel, errors and the toggle key."""

import mrcfile
import numpy as np
import pytest
import torch
from qtpy.QtCore import Qt

import napari_respond_cam
from napari_respond_cam import explain, register_model
from napari_respond_cam.napari_plugin.dock_widget import (
    ARCHITECTURE_FROM_FILE,
    LOAD_FROM_FILE,
    model_choices,
)
from napari_respond_cam.napari_plugin.heatmap_layer import (
    METADATA_KEY,
    POSITIVE,
    SCALE_RULE,
    SIGNED,
    is_heatmap_layer,
)
from tiny_classifier import CLASSES, noise_volume, tiny_cnn1

pytestmark = pytest.mark.gui

SCALE = (11.4, 11.4, 11.4)
RUN_TIMEOUT_MS = 60_000


def add_tomogram(viewer, shape=(16, 16, 16), name="tomo"):
    return viewer.add_image(
        noise_volume(shape), name=name, scale=SCALE, translate=(0, 0, -22.8), units="angstrom"
    )


def run(widget, qtbot):
    widget.explain_button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)


def heatmaps(viewer):
    return [layer for layer in viewer.layers if is_heatmap_layer(layer)]


def test_volume_picker_follows_the_viewers_image_layers(viewer, widget):
    assert widget.volume.choices == ()
    tomo = add_tomogram(viewer)
    viewer.add_labels(np.zeros((16, 16, 16), dtype=np.int32), name="truth")
    other = add_tomogram(viewer, name="other")
    assert widget.volume.choices == (tomo, other)

    tomo.name = "renamed"
    assert [name for name, _ in widget.volume._default_choices(widget.volume)] == [
        "renamed",
        "other",
    ]
    viewer.layers.remove(other)
    assert widget.volume.choices == (tomo,)


def test_results_stay_when_other_layers_come_and_go_but_not_when_the_volume_goes(
    viewer, widget, qtbot
):
    tomo = add_tomogram(viewer)
    assert "heatmaps of 'tomo' while you scroll" in widget.results.value
    tomo.name = "renamed"  # before any run, the hint follows the picked layer's name
    assert "'renamed'" in widget.results.value
    run(widget, qtbot)
    shown = widget.results.value
    assert "Sum-to-score" in shown
    viewer.add_points(name="my picks", ndim=3)
    viewer.add_labels(np.zeros((16, 16, 16), np.int32), name="region")
    viewer.layers.move(0, 2)
    viewer.layers["region"].name = "my region"
    assert widget.results.value == shown
    viewer.layers.remove(tomo)
    assert widget.results.value.startswith("Press Explain.")


def test_model_picker_shows_models_registered_later(widget, qtbot):
    assert widget.model.choices[0] == "tiny-cnn1"
    assert widget.model.choices[-1] == LOAD_FROM_FILE

    register_model("from-console", tiny_cnn1(), class_names=CLASSES)

    qtbot.waitUntil(lambda: "from-console" in widget.model.choices, timeout=3000)
    assert widget.model.value == "tiny-cnn1"  # refreshing keeps the choice


def test_target_pickers_follow_the_model(gap_model, widget):
    assert widget.target_layer.value == "maxpool2"
    assert widget.target_layer.choices[0] == "conv1"
    assert widget.target.choices == ("predicted class", "all classes", *CLASSES)
    assert (widget.window.value, widget.stride.value) == (16, 8)
    assert not widget.window.enabled  # the model's input size fixes the window

    widget.model.value = "gap"

    assert widget.target_layer.choices == ("features",)
    assert widget.target.choices == ("predicted class", "all classes")
    assert (widget.window.value, widget.stride.value) == (64, 32)
    assert widget.window.enabled


def test_explain_adds_an_aligned_hot_heatmap_with_its_numbers(viewer, widget, qtbot):
    tomo = add_tomogram(viewer)
    before = tomo.data.copy()
    widget.target.value = "proteasome"

    run(widget, qtbot)

    [layer] = heatmaps(viewer)
    expected = explain(tiny_cnn1(), before, "maxpool2", target=1)
    assert layer.name == "tomo Respond-CAM (proteasome)"
    assert layer.data.shape == (16, 16, 16)
    np.testing.assert_allclose(layer.data, expected.heatmap[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layer.scale, SCALE)
    np.testing.assert_allclose(layer.translate, [0, 0, -22.8])
    assert [str(u) for u in layer.units] == ["angstrom"] * 3
    assert layer.colormap.name == "hot"
    assert layer.blending == "additive"
    scale = float(np.percentile(np.abs(expected.heatmap[0]), 99.9))
    assert layer.contrast_limits == pytest.approx([0.0, scale])
    assert layer.contrast_limits_range == pytest.approx(
        [min(0.0, float(expected.heatmap.min())), float(expected.heatmap.max())]
    )
    meta = layer.metadata[METADATA_KEY]
    assert (meta["model"], meta["layer"], meta["target"], meta["method"]) == (
        "tiny-cnn1",
        "maxpool2",
        "proteasome",
        "Respond-CAM",
    )
    [check] = meta["sum_to_score"]
    assert check["score"] == pytest.approx(float(expected.scores[0]), rel=1e-5)
    assert check["cam_sum"] == pytest.approx(float(expected.cam_sums[0]), rel=1e-4)
    assert abs(check["residual"]) < 1e-5
    assert sum(meta["class_probabilities"].values()) == pytest.approx(1.0)
    assert widget.results.value.startswith("Predicted: ")
    assert "sum − (score − bias)" in widget.results.value
    assert f"Colour scale: 0 to {scale:.3g} (99.9th percentile of |map|)" in widget.results.value
    assert meta["colour_scale"]["contrast_limits"] == pytest.approx([0.0, scale])
    assert meta["precision"] == "fp32"
    np.testing.assert_array_equal(tomo.data, before)  # the source is never changed


def test_bf16_precision_reaches_the_core(viewer, widget, qtbot):
    tomo = add_tomogram(viewer)
    widget.precision.value = "bf16"

    run(widget, qtbot)

    [layer] = heatmaps(viewer)
    expected = explain(tiny_cnn1(), tomo.data, "maxpool2", precision="bf16")
    np.testing.assert_allclose(layer.data, expected.heatmap[0], rtol=1e-5, atol=1e-7)
    assert layer.metadata[METADATA_KEY]["precision"] == "bf16"


def test_signed_view_and_replacement_policy(viewer, widget, qtbot):
    add_tomogram(viewer)
    run(widget, qtbot)
    [first] = heatmaps(viewer)

    widget.display.value = SIGNED
    run(widget, qtbot)
    assert heatmaps(viewer) == [first]  # same volume, method and target: updated in place
    scale = float(np.percentile(np.abs(first.data), 99.9))
    assert first.contrast_limits == pytest.approx([-scale, scale])
    assert first.blending == "translucent"

    widget.method.value = "grad"
    run(widget, qtbot)
    assert [layer.name for layer in heatmaps(viewer)] == [
        "tomo Respond-CAM (predicted class)",
        "tomo Grad-CAM (predicted class)",
    ]


def test_the_display_restyles_the_picked_volumes_heatmaps_and_applies_when_a_run_ends(
    viewer, widget, qtbot
):
    add_tomogram(viewer)
    other = add_tomogram(viewer, name="other")
    widget.volume.value = other
    run(widget, qtbot)
    widget.volume.value = viewer.layers["tomo"]
    run(widget, qtbot)
    mine, theirs = viewer.layers["tomo Respond-CAM (predicted class)"], heatmaps(viewer)[0]
    assert theirs.name.startswith("other") and theirs.colormap.name == "hot"

    widget.display.value = SIGNED
    scale = float(np.percentile(np.abs(mine.data), 99.9))
    assert mine.contrast_limits == pytest.approx([-scale, scale])
    assert mine.blending == "translucent" and mine.colormap.name != "hot"
    assert mine.metadata[METADATA_KEY]["colour_scale"]["contrast_limits"] == pytest.approx(
        [-scale, scale]
    )
    assert theirs.colormap.name == "hot" and theirs.contrast_limits[0] == 0.0

    widget.method.value = "grad"
    widget.explain_button.native.click()
    widget.display.value = POSITIVE  # while it runs: the new map comes in this display
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)
    grad = viewer.layers["tomo Grad-CAM (predicted class)"]
    assert grad.colormap.name == "hot" and grad.contrast_limits[0] == 0.0


def test_the_results_colour_scale_follows_the_display_while_the_results_are_shown(
    viewer, widget, qtbot
):
    add_tomogram(viewer)
    run(widget, qtbot)
    [layer] = heatmaps(viewer)
    scale = float(np.percentile(np.abs(layer.data), 99.9))

    def scale_line():
        return [line for line in widget.results.value.splitlines() if "Colour scale" in line]

    assert scale_line() == [f"Colour scale: 0 to {scale:.3g} ({SCALE_RULE})"]
    summary = widget.results.value.splitlines()[0]

    widget.display.value = SIGNED
    assert scale_line() == [f"Colour scale: {-scale:.3g} to {scale:.3g} ({SCALE_RULE})"]
    assert widget.results.value.splitlines()[0] == summary  # the run's numbers stay

    viewer.layers.remove(layer)
    widget.display.value = POSITIVE
    assert scale_line() == [] and widget.results.value.splitlines()[0] == summary

    widget.method.value = "grad"  # a new setting: the hint replaces the results for good
    hint = widget.results.value
    widget.display.value = SIGNED
    assert widget.results.value == hint and "Colour scale" not in hint


def test_a_larger_volume_is_tiled_with_a_progress_bar_and_summary(viewer, widget, qtbot):
    from napari.utils import progress

    add_tomogram(viewer, shape=(16, 24, 32))
    widget.batch_size.value = 2
    seen = []
    progress._all_instances.events.changed.connect(lambda e: seen.extend(e.added))

    run(widget, qtbot)

    [layer] = heatmaps(viewer)
    assert layer.data.shape == (16, 24, 32)
    meta = layer.metadata[METADATA_KEY]
    assert meta["n_windows"] == 1 * 2 * 3
    assert sum(meta["window_votes"].values()) == 6
    [bar] = seen
    assert (bar.n, bar.total) == (6, 6)
    assert bar not in progress._all_instances  # closed when the run ended
    assert widget.results.value.startswith("6 windows; predicted per window:")


def test_a_chosen_class_on_a_larger_volume_maps_the_windows_called_it_unless_unticked(
    gap_model, viewer, widget, qtbot
):
    tomo = add_tomogram(viewer, shape=(16, 24, 32))
    assert widget.where_predicted.native.isHidden()  # the predicted class: nothing to choose
    widget.target.value = "proteasome"
    assert not widget.where_predicted.native.isHidden() and widget.where_predicted.value
    every = napari_respond_cam.explain_volume(tiny_cnn1(), tomo.data, "maxpool2", target=1)

    run(widget, qtbot)
    # The tiny model calls all six windows ribosome: the proteasome map holds none.
    assert not heatmaps(viewer)[-1].data.any()
    assert heatmaps(viewer)[-1].metadata[METADATA_KEY]["windows"] == "those called proteasome"
    assert widget.results.value.startswith(
        "No window is called proteasome, so the map is empty; to see the evidence for "
        "proteasome in every window: "
    )
    assert "untick 'only windows called the class' in napari" in widget.results.value

    widget.where_predicted.value = False
    run(widget, qtbot)
    np.testing.assert_allclose(heatmaps(viewer)[-1].data, every, rtol=1e-5, atol=1e-9)
    assert heatmaps(viewer)[-1].metadata[METADATA_KEY]["windows"] == "all"

    widget.model.value = "gap"  # no classes to choose: no window choice either
    assert widget.where_predicted.native.isHidden()
    assert widget.window.value == 32  # the 64 proposed for the model, cut to the volume


def test_all_classes_give_one_layer_per_class_each_on_its_own_scale(viewer, widget, qtbot):
    tomo = add_tomogram(viewer)
    expected = explain(tiny_cnn1(), tomo.data, "maxpool2", target="all")
    widget.target.value = "all classes"

    run(widget, qtbot)

    layers = heatmaps(viewer)
    assert [layer.name for layer in layers] == [f"tomo Respond-CAM ({c})" for c in CLASSES]
    predicted = CLASSES[int(np.argmax(expected.logits[0]))]
    for k, layer in enumerate(layers):
        assert layer.data.shape == (16, 16, 16)
        np.testing.assert_allclose(layer.data, expected.heatmap[0, k], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(layer.scale, SCALE)
        scale = float(np.percentile(np.abs(expected.heatmap[0, k]), 99.9))
        assert layer.contrast_limits == pytest.approx([0.0, scale])  # no class left black
        meta = layer.metadata[METADATA_KEY]
        assert (meta["target"], meta["class_index"]) == (CLASSES[k], k)
        assert layer.visible == (CLASSES[k] == predicted)  # overlays would add up
        assert f"  {CLASSES[k]}: 0 to {scale:.3g}" in widget.results.value
    scales = [layer.contrast_limits[1] for layer in layers]
    assert max(scales) > 1.5 * min(scales)  # one shared range would darken a class


def test_one_run_at_a_time(viewer, widget, qtbot):
    add_tomogram(viewer, shape=(16, 16, 64))
    widget.batch_size.value = 1
    widget.start_explain()
    assert widget.running
    assert not widget.explain_button.enabled and widget.cancel_button.enabled
    assert not widget.model.enabled
    widget.start_explain()  # ignored while running
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)
    assert len(heatmaps(viewer)) == 1
    assert widget.explain_button.enabled and not widget.cancel_button.enabled


def test_cancel_stops_at_the_next_batch_and_adds_no_layer(viewer, widget, qtbot, new_notifications):
    from napari.utils import progress

    add_tomogram(viewer, shape=(16, 16, 200))
    widget.batch_size.value = 1
    bars = []
    progress._all_instances.events.changed.connect(lambda e: bars.extend(e.added))

    widget.start_explain()
    qtbot.waitUntil(lambda: bars and bars[0].n >= 1, timeout=RUN_TIMEOUT_MS)
    widget.cancel_button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)

    assert heatmaps(viewer) == []
    assert bars[0].n < bars[0].total == 24  # stopped well before the 24 windows
    assert "Explanation cancelled; no layer was added." in new_notifications()
    assert widget.explain_button.enabled


def test_user_mistakes_are_notifications(viewer, widget, qtbot, new_notifications):
    widget.start_explain()
    assert "Open a tomogram first" in new_notifications()[-1]

    viewer.add_image(noise_volume((2, 16, 16, 16)), name="stack")
    widget.start_explain()
    assert "'stack' has 4 axes" in new_notifications()[-1]
    assert not widget.running


def test_core_errors_from_the_worker_are_notifications(viewer, widget, qtbot, new_notifications):
    add_tomogram(viewer, shape=(16, 16, 40))
    widget.stride.value = 20  # larger than the 16^3 window: the core refuses it
    run(widget, qtbot)
    assert heatmaps(viewer) == []
    [message] = [m for m in new_notifications() if "stride" in m]
    assert "larger than the window" in message


def test_a_model_that_fails_to_load_is_reported(viewer, widget, new_notifications):
    def broken():
        raise OSError("disk on fire")

    register_model("broken", broken)
    widget.model.reset_choices()
    widget.model.value = "broken"
    assert "Could not build the model 'broken': OSError: disk on fire" in new_notifications()
    assert widget.target_layer.choices == ()


def test_model_loaded_from_a_file(viewer, widget, tmp_path, new_notifications):
    from napari_respond_cam import save_model

    path = save_model(tiny_cnn1(input_size=20), tmp_path / "mine.pt2")
    widget.model.value = LOAD_FROM_FILE
    assert not widget.model_file.native.isHidden() and not widget.trust_file.native.isHidden()

    widget.model_file.value = path
    widget.load_file.native.click()

    assert widget.model.value == "mine.pt2 (file)"
    assert widget.target_layer.value == "maxpool2"
    assert widget.window.value == 20
    assert widget.model_file.native.isHidden()


def test_two_files_of_one_name_are_two_models_and_each_load_starts_from_its_own_architecture(
    viewer, widget, tmp_path, new_notifications
):
    from napari_respond_cam import save_model

    bare = tmp_path / "bare.pt"
    torch.save(tiny_cnn1(input_size=20).state_dict(), bare)
    small = save_model(tiny_cnn1(input_size=16), tmp_path / "model.safetensors")
    (tmp_path / "other").mkdir()
    large = save_model(tiny_cnn1(input_size=20), tmp_path / "other" / "model.safetensors")

    def load(path, architecture=None):
        widget.model.value = LOAD_FROM_FILE
        if architecture is not None:
            widget.architecture.value = architecture
        widget.model_file.value = path
        widget.load_file.native.click()
        return widget.model.value

    assert load(bare, "cnn1") == "bare.pt (file)"
    assert widget.architecture.value == ARCHITECTURE_FROM_FILE
    assert load(small) == "model.safetensors (file)" and widget.window.value == 16
    assert load(large) == f"model.safetensors (file in {large.parent})"
    assert widget.window.value == 20
    assert load(small) == "model.safetensors (file)"  # the same file again: its own entry
    files = [choice for choice in widget.model.choices if "(file" in choice]
    assert files == [
        "bare.pt (file)",
        "model.safetensors (file)",
        f"model.safetensors (file in {large.parent})",
    ]
    # Only the bare weights needed a word: which input size they were built for.
    [note] = new_notifications()
    assert note.startswith("bare.pt holds bare weights, built as cnn1 for inputs of 20^3 voxels")


def test_pickled_modules_need_trust(viewer, widget, tmp_path, new_notifications):
    path = tmp_path / "whole.pt"
    torch.save(tiny_cnn1(), path)
    widget.model.value = LOAD_FROM_FILE
    widget.model_file.value = path

    widget.load_file.native.click()
    assert "tick 'trust this file'" in new_notifications()[-1]
    assert widget.model.value == LOAD_FROM_FILE

    widget.trust_file.value = True
    widget.load_file.native.click()
    assert widget.model.value == "whole.pt (file)"


def test_h_toggles_the_heatmap_while_the_tomogram_is_selected(viewer, widget, qtbot):
    tomo = add_tomogram(viewer)
    run(widget, qtbot)
    [layer] = heatmaps(viewer)
    viewer.layers.selection.active = tomo
    canvas = viewer.window._qt_viewer.canvas.native

    qtbot.keyClick(canvas, Qt.Key_H)
    assert not layer.visible
    qtbot.keyClick(canvas, Qt.Key_H)
    assert layer.visible


def test_model_picker_lists_registry_then_files_then_the_loader():
    assert model_choices(["cnn1-demo", "cnn1"], ["mine.pt2 (file)"]) == [
        "cnn1-demo",
        "cnn1",
        "mine.pt2 (file)",
        LOAD_FROM_FILE,
    ]


def test_h_toggles_the_heatmaps_of_the_volume_picked_in_the_widget(viewer, widget, qtbot):
    first = add_tomogram(viewer, name="first")
    second = add_tomogram(viewer, name="second")
    for volume in (first, second):
        widget.volume.value = volume
        run(widget, qtbot)
    first_map, second_map = heatmaps(viewer)  # second's is the topmost
    widget.volume.value = first
    assert "heatmaps of 'first'" in widget.results.value
    canvas = viewer.window._qt_viewer.canvas.native

    qtbot.keyClick(canvas, Qt.Key_H)
    assert (first_map.visible, second_map.visible) == (False, True)
    qtbot.keyClick(canvas, Qt.Key_H)
    assert (first_map.visible, second_map.visible) == (True, True)


def test_h_brings_back_only_the_class_maps_it_hid(viewer, widget, qtbot):
    add_tomogram(viewer)
    widget.target.value = "all classes"
    run(widget, qtbot)
    layers = heatmaps(viewer)
    layers[0].visible = layers[2].visible = True
    layers[1].visible = False  # the user hid one class
    canvas = viewer.window._qt_viewer.canvas.native

    qtbot.keyClick(canvas, Qt.Key_H)
    assert [layer.visible for layer in layers] == [False, False, False]
    qtbot.keyClick(canvas, Qt.Key_H)
    assert [layer.visible for layer in layers] == [True, False, True]


def test_the_window_is_bounded_by_the_model_and_the_volume(gap_model, viewer, widget):
    assert (widget.window.min, widget.window.max) == (16, 4096)  # tiny-cnn1 takes 16^3
    widget.model.value = "gap"
    assert (widget.window.min, widget.window.max) == (4, 4096)

    widget.volume.value = add_tomogram(viewer, shape=(16, 24, 40))

    assert (widget.window.min, widget.window.max) == (4, 40)
    assert widget.window.value == 40  # the 64 proposed for the model is more than needed
    assert "at most 40, the largest side of 'tomo'" in widget.window.tooltip
    widget.window.native.setValue(1000)  # as typing into the control does
    assert widget.window.value == 40


def test_an_image_stack_is_refused_with_how_to_take_a_volume_out(
    viewer, widget, tmp_path, new_notifications
):
    from napari_respond_cam.mrc_io import write_mrc

    path = write_mrc(tmp_path / "tilts.mrcs", noise_volume((16, 16, 16)))
    [stack] = viewer.open(path, plugin="napari-respond-cam")
    before = np.array(stack.data)
    widget.volume.value = stack

    widget.explain_button.native.click()

    message = new_notifications()[-1]
    assert message.startswith("'tilts' is a stack of 16 2D images")
    assert "under 'volume'" in message
    assert "viewer.add_image(viewer.layers['tilts'].data, scale=" in message
    assert not widget.running and heatmaps(viewer) == []
    np.testing.assert_array_equal(stack.data, before)


def test_the_widgets_own_messages_name_its_controls(viewer, widget, new_notifications):
    widget.model.value = LOAD_FROM_FILE
    widget.load_file.native.click()
    widget.explain_button.native.click()
    messages = new_notifications()
    assert messages == [
        "Choose a file under 'model file' first (.pt2, .pt, .pth, .ckpt, .safetensors), then "
        "press 'Load model file'.",
        "Open a tomogram first (File > Open, or File > Open Sample > Respond-CAM), then pick "
        "it under 'volume'.",
    ]


def test_preprocessing_picker_offers_the_models_own_first_and_reaches_the_core(
    viewer, widget, qtbot
):
    tomo = add_tomogram(viewer)
    tomo.data = tomo.data * -500.0 + 2000.0  # raw counts, inverted contrast
    assert widget.preprocessing.choices[0] == "none"  # the tiny model carries none
    assert widget.preprocessing.native.itemText(0) == "none (raw voxels) (the model names none)"
    widget.preprocessing.value = "zscore-window"
    widget.invert.value = True
    run(widget, qtbot)
    [layer] = heatmaps(viewer)
    chosen = napari_respond_cam.Preprocessing("zscore-window", invert=True)
    expected = explain(tiny_cnn1(), tomo.data, "maxpool2", preprocessing=chosen)
    np.testing.assert_allclose(layer.data, expected.heatmap[0], rtol=1e-5, atol=1e-7)
    recorded = layer.metadata[METADATA_KEY]["preprocessing"]
    assert recorded["kind"] == "zscore-window" and recorded["invert"] is True


def test_binning_is_proposed_from_the_voxel_sizes_and_a_mismatch_is_explained(
    viewer, widget, qtbot, new_notifications
):
    widget._model.voxel_size_a = 11.4
    viewer.add_image(noise_volume((32, 32, 32)), name="fine", scale=(5.7,) * 3, units="angstrom")
    assert widget.binning.value == 2  # 5.7 Å binned by 2 is the model's 11.4 Å
    assert "voxels" not in widget.results.value
    widget.binning.value = 1
    assert "bin it by 2" in widget.results.value
    assert "the 'binning' control set to 2 in napari" in widget.results.value
    run(widget, qtbot)
    assert any("bin it by 2" in message for message in new_notifications())
    assert widget.results.value.startswith("fine: The tomogram's voxels are 5.7 Å")
    assert "Binned" not in widget.results.value
    widget.binning.value = 2
    run(widget, qtbot)
    assert widget.results.value.startswith(
        "Binned by 2: the model saw 2×2×2 block averages of the volume, voxels of 11.4 Å; "
        "the map is back on the volume's own grid.\n"
    )
    [layer] = heatmaps(viewer)
    assert layer.data.shape == (32, 32, 32)
    assert layer.metadata[METADATA_KEY]["binning"] == 2


def test_the_binning_follows_a_voxel_size_set_by_hand_on_the_picked_layer(viewer, widget):
    widget._model.voxel_size_a = 11.4
    fine = viewer.add_image(noise_volume((32, 32, 32)), name="fine", units="angstrom")
    other = viewer.add_image(noise_volume((32, 32, 32)), name="other", units="angstrom")
    widget.volume.value = fine
    assert widget.binning.value == 11  # 1 Å voxels (napari's default scale) binned by 11
    fine.scale = (5.7,) * 3  # the user sets the voxel size in napari
    assert widget.binning.value == 2
    widget.volume.value = other
    fine.scale = (2.85,) * 3  # no longer picked: not followed
    assert widget.binning.value == 11  # other's 1 Å voxels binned by 11 come nearest
    widget.volume.value = fine
    assert widget.binning.value == 4


def test_super_resolution_voxels_get_the_binning_proposed_up_to_the_volumes_side(viewer, widget):
    widget._model.voxel_size_a = 11.4
    viewer.add_image(
        noise_volume((20, 64, 64)), name="superres", scale=(0.5,) * 3, units="angstrom"
    )
    assert widget.binning.max == 20  # the most a volume 20 voxels deep can be binned by
    assert widget.binning.value == 20  # 23 would be closest to 11.4 Å
    viewer.add_image(noise_volume((64, 64, 64)), name="deep", scale=(0.5,) * 3, units="angstrom")
    widget.volume.value = viewer.layers["deep"]
    assert (widget.binning.max, widget.binning.value) == (64, 23)
    assert "bin it by" not in widget.results.value


def test_a_tomogram_without_a_voxel_size_gets_no_binning_proposal(viewer, widget, tmp_path):
    path = tmp_path / "no_size.mrc"
    with mrcfile.new(path, data=noise_volume((20, 20, 20))) as handle:
        handle.header.cella = (0.0, 0.0, 0.0)
    widget._model.voxel_size_a = 11.4
    with pytest.warns(UserWarning, match="no voxel size"):
        [layer] = viewer.open(path, plugin="napari-respond-cam")
    assert tuple(layer.units) == ("pixel",) * 3
    assert widget.volume.value is layer
    assert widget.binning.value == 1
    assert widget.results.value.startswith(
        "The volume has no voxel size (its layer is in pixels), so it cannot be checked "
        "against the 11.4 Å the model was trained at;"
    )


def test_a_warning_the_run_gives_twice_is_shown_once(viewer, widget, qtbot, new_notifications):
    add_tomogram(viewer, shape=(10, 16, 16))  # 10 of the window's 16 voxels along z
    run(widget, qtbot)
    padding = [m for m in new_notifications() if "is padded at the far end" in m]
    assert len(padding) == 1 and "38% of each window is padding" in padding[0]
