"""What the worker thread runs: one pass for a volume of the model's size, tiles otherwise."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from napari_respond_cam import (
    Cancelled,
    RespondCamError,
    explain,
    explain_volume,
    region_target,
)
from napari_respond_cam.engine.preprocessing import Preprocessing
from napari_respond_cam.runs.detections import at_map_peaks, detections, merged
from napari_respond_cam.runs.explain_run import (
    explained_in_one_pass,
    outcome_metadata,
    run_explanation,
)
from napari_respond_cam.runs.request import ExplainRequest, ExplainSettings
from napari_respond_cam.runs.summary import summary_text
from napari_respond_cam.tiling import volume_explainer
from napari_respond_cam.tiling import volume_statistics as volume_statistics_module
from napari_respond_cam.tiling.predict_volume import predict_volume
from napari_respond_cam.tiling.progress import EXPLANATION, STATISTICS
from tiny_classifier import CLASSES, noise_volume, tiny_cnn1
from toy_models import GapHead, TinyUNet, sign_classifier


def request(model, volume, target=None, **chosen):
    values = {
        "layer": "maxpool2",
        "target": target,
        "method": "respond",
        "device": "cpu",
        "window": 16,
        "stride": 8,
        "batch_size": 4,
        **chosen,
    }
    return ExplainRequest(
        model,
        volume,
        ExplainSettings(**values),
        model_name="tiny",
        volume_name="tomo",
        class_names=CLASSES,
    )


class Recorder:
    """A progress callback that remembers its calls and can ask to stop."""

    def __init__(self, stop_after=None):
        self.calls = []
        self.stop_after = stop_after

    def __call__(self, done, total):
        self.calls.append((done, total))
        return self.stop_after is None or done < self.stop_after


def test_a_volume_of_the_models_size_is_explained_in_one_pass():
    model, x = tiny_cnn1(), noise_volume()
    progress = Recorder()

    outcome = run_explanation(request(model, x), progress)

    expected = explain(model, x, "maxpool2")
    np.testing.assert_allclose(outcome.heatmap, expected.heatmap[0], rtol=1e-6)
    assert outcome.heatmap.shape == (16, 16, 16)
    assert progress.calls == [(0, 1), (1, 1)]
    summary = outcome.summary
    np.testing.assert_allclose(summary.probabilities, expected.probabilities[0], rtol=1e-6)
    assert sum(summary.probabilities) == pytest.approx(1.0)
    [check] = summary.checks
    assert check.label == CLASSES[int(expected.targets[0])]
    assert check.score == pytest.approx(float(expected.scores[0]))
    assert check.cam_sum == pytest.approx(float(expected.cam_sums[0]), rel=1e-6)
    assert abs(check.residual) < 1e-5  # Respond-CAM: sum = score - bias


def test_all_classes_in_one_pass_give_a_class_axis_and_one_check_each():
    model, x = tiny_cnn1(), noise_volume()
    outcome = run_explanation(request(model, x, target="all"), Recorder())

    expected = explain(model, x, "maxpool2", target="all")
    assert outcome.heatmap.shape == (3, 16, 16, 16)
    np.testing.assert_allclose(outcome.heatmap, expected.heatmap[0], rtol=1e-6)
    assert [c.label for c in outcome.summary.checks] == list(CLASSES)
    np.testing.assert_allclose(
        [c.cam_sum for c in outcome.summary.checks], expected.cam_sums[0], rtol=1e-5
    )
    assert max(abs(c.residual) for c in outcome.summary.checks) < 1e-5


def test_a_larger_volume_is_tiled_and_summarised_over_windows():
    model, x = tiny_cnn1(), noise_volume((24, 32, 32))
    progress = Recorder()

    outcome = run_explanation(request(model, x, target=1, where_predicted=False), progress)

    heatmap, windows = explain_volume(
        model, x, "maxpool2", target=1, stride=8, batch_size=4, return_windows=True
    )
    np.testing.assert_allclose(outcome.heatmap, heatmap, rtol=1e-6)
    n = 2 * 3 * 3  # windows of 16 every 8 voxels: 2 along z, 3 along y and x
    assert len(windows) == n and progress.calls[0] == (0, n) and progress.calls[-1] == (n, n)
    summary = outcome.summary
    assert summary.n_windows == n
    assert sum(summary.window_votes.values()) == n
    np.testing.assert_allclose(summary.probabilities, windows.probabilities.mean(axis=0), rtol=1e-6)
    [check] = summary.checks
    best = int(np.argmax(windows.scores))
    assert check.score == pytest.approx(float(windows.scores[best]), rel=1e-5)
    assert check.label.startswith("proteasome, best window at")
    assert abs(check.residual) < 1e-5


def sign_volume(*means: float) -> np.ndarray:
    """Blocks of 8^3 voxels along x, each with its own value (its window's mean)."""
    return np.concatenate([np.full((8, 8, 8), m, np.float32) for m in means], axis=2)


def test_a_chosen_class_on_a_tiled_volume_maps_only_the_windows_called_it():
    model, x = sign_classifier(classes=3), sign_volume(-1.0, 1.0, 2.0, -3.0)
    settings = {"layer": "0", "method": "grad", "window": 8, "stride": 8}

    outcome = run_explanation(request(model, x, target=1, **settings))
    every = run_explanation(request(model, x, target=1, where_predicted=False, **settings))

    # Grad-CAM of class 1 is x / 512 per voxel in every window; windows 1 and 2 predict it.
    np.testing.assert_allclose(every.heatmap, x / 512, rtol=1e-6)
    np.testing.assert_array_equal(outcome.heatmap[..., 8:24], every.heatmap[..., 8:24])
    assert not outcome.heatmap[..., :8].any() and not outcome.heatmap[..., 24:].any()
    note = (
        "Only the 2 of 4 windows the model calls proteasome add to the map (for every window: "
        "where_predicted=False in Python, --every-window on the command line, untick 'only "
        "windows called the class' in napari)."
    )
    assert outcome.summary.notes == (note,) and every.summary.notes == ()
    assert outcome_metadata(outcome)["notes"] == [note]


def test_a_class_no_window_is_called_gets_an_empty_map_and_says_how_to_see_it():
    model, x = sign_classifier(classes=3), sign_volume(-1.0, 1.0, 2.0)
    chosen = request(model, x, target=2, layer="0", method="grad", window=8, stride=8)
    outcome = run_explanation(chosen)
    assert not outcome.heatmap.any()
    assert outcome.summary.notes[0].startswith(
        "No window is called membrane, so the map is empty; to see the evidence for membrane "
        "in every window: where_predicted=False in Python, --every-window"
    )


def test_a_class_every_window_is_called_needs_no_note():
    model, x = sign_classifier(classes=3), sign_volume(1.0, 2.0)
    settings = {"layer": "0", "method": "grad", "window": 8, "stride": 8}
    outcome = run_explanation(request(model, x, target=1, **settings))
    np.testing.assert_allclose(outcome.heatmap, x / 512, rtol=1e-6)
    assert outcome.summary.notes == ()
    assert outcome_metadata(outcome)["windows"] == "those called proteasome"


def test_a_volume_smaller_than_the_input_is_one_padded_window_that_says_what_it_holds():
    model, x = tiny_cnn1(), noise_volume((16, 16, 12))
    with pytest.warns(UserWarning, match="smaller than the window"):
        outcome = run_explanation(request(model, x, target=1))
    assert outcome.summary.n_windows == 1 and not outcome.heatmap.any()
    assert outcome.summary.notes[0].startswith("No window is called proteasome")
    assert outcome_metadata(outcome)["windows"] == "those called proteasome"
    one_pass = run_explanation(request(model, noise_volume(), target=1))
    assert outcome_metadata(one_pass)["windows"] == "all" and one_pass.heatmap.any()


def test_all_classes_of_a_tiled_volume_split_the_windows_by_their_predicted_class():
    model, x = sign_classifier(classes=3), sign_volume(-1.0, 1.0, 2.0, -3.0)
    settings = {"layer": "0", "method": "grad", "window": 8, "stride": 8}

    outcome = run_explanation(request(model, x, target="all", **settings))

    predicted = run_explanation(request(model, x, **settings)).heatmap
    np.testing.assert_allclose(outcome.heatmap[0][..., [*range(8), *range(24, 32)]],
                               -x[..., [*range(8), *range(24, 32)]] / 512, rtol=1e-6)  # fmt: skip
    assert not outcome.heatmap[2].any()  # no window predicts membrane
    np.testing.assert_allclose(outcome.heatmap.sum(axis=0), predicted, rtol=1e-6)
    assert outcome.summary.notes[0].startswith(
        "Each class's map holds only the windows the model calls that class"
    )


def test_all_classes_of_a_tiled_volume_run_once_per_class_under_one_progress():
    model, x = tiny_cnn1(), noise_volume((16, 16, 24))
    progress = Recorder()

    outcome = run_explanation(request(model, x, target="all", where_predicted=False), progress)

    assert outcome.heatmap.shape == (3, 16, 16, 24)
    for k in range(3):
        alone = explain_volume(model, x, "maxpool2", target=k, stride=8, batch_size=4)
        np.testing.assert_allclose(outcome.heatmap[k], alone, rtol=1e-6)
    done = [d for d, _ in progress.calls]
    assert done == sorted(done) and progress.calls[-1] == (6, 6)  # 2 windows x 3 classes
    assert [c.label.split(",")[0] for c in outcome.summary.checks] == list(CLASSES)


def test_progress_answering_false_stops_at_the_next_batch():
    model, x = tiny_cnn1(), noise_volume((16, 16, 48))
    progress = Recorder(stop_after=1)
    with pytest.raises(Cancelled):
        run_explanation(request(model, x, batch_size=1), progress)
    assert progress.calls == [(0, 5), (1, 5)]


def test_one_pass_honours_cancellation_too():
    with pytest.raises(Cancelled):
        run_explanation(request(tiny_cnn1(), noise_volume()), lambda done, total: False)


def test_models_taking_any_size_see_a_volume_within_the_window_whole():
    torch.manual_seed(0)
    gap = GapHead(dims=3, width=4, classes=3).eval()
    assert explained_in_one_pass((20, 20, 20), gap, window=64)
    assert not explained_in_one_pass((20, 20, 80), gap, window=64)
    assert explained_in_one_pass((16, 16, 16), tiny_cnn1(), window=64)
    assert not explained_in_one_pass((16, 16, 15), tiny_cnn1(), window=64)

    x = noise_volume((20, 20, 20))
    outcome = run_explanation(request(gap, x, layer="features", window=64), Recorder())
    expected = explain(gap, x, "features")
    np.testing.assert_allclose(outcome.heatmap, expected.heatmap[0], rtol=1e-6)
    # conv -> global average pool -> linear: the map sums to the score minus the fc bias
    [check] = outcome.summary.checks
    assert check.bias == pytest.approx(
        float(gap.fc.bias.detach()[int(expected.targets[0])]), abs=1e-5
    )
    assert abs(check.residual) < 1e-5


def test_a_tiled_runs_check_is_its_best_window_explained_alone():
    model, x = tiny_cnn1(), noise_volume((24, 32, 32))
    outcome = run_explanation(request(model, x, target=2, where_predicted=False))
    _, windows = explain_volume(
        model, x, "maxpool2", target=2, stride=8, batch_size=4, return_windows=True
    )
    best = int(np.argmax(windows.scores))
    z, y, w = windows.starts[best]
    alone = explain(model, x[z : z + 16, y : y + 16, w : w + 16], "maxpool2", target=2)
    [check] = outcome.summary.checks
    assert check.label == f"membrane, best window at ({z}, {y}, {w})"
    assert check.score == pytest.approx(float(alone.scores[0]), rel=1e-5)
    assert check.cam_sum == pytest.approx(float(alone.cam_sums[0]), rel=1e-4)
    assert check.bias == pytest.approx(float(alone.bias[0]), rel=1e-4, abs=1e-6)


def test_the_check_is_the_best_of_the_windows_the_map_holds_and_none_when_it_holds_none():
    model, x = tiny_cnn1(), noise_volume((24, 32, 32))
    model.background_class = 0
    # The untrained model calls every window class 0: lower class 0's bias to the median
    # margin, so that about half the windows call another class.
    log_p = np.log(
        explain_volume(model, x, "maxpool2", stride=8, return_windows=True)[1].probabilities
    )
    with torch.no_grad():
        model.fc3.bias[0] -= float(np.median(log_p[:, 0] - log_p[:, 1:].max(axis=1)))
    _, windows = explain_volume(
        model, x, "maxpool2", stride=8, background_class=0, return_windows=True
    )
    held = windows.predicted != 0
    np.testing.assert_array_equal(windows.counted, held)  # the tiler's own record
    best = int(np.argmax(np.where(held, windows.scores, -np.inf)))
    assert not held[int(np.argmax(windows.scores))]  # the best of all is left out
    [check] = run_explanation(request(model, x)).summary.checks
    assert check.label.endswith(f"best window at ({', '.join(map(str, windows.starts[best]))})")
    assert check.score == pytest.approx(float(windows.scores[best]), rel=1e-6)

    with torch.no_grad():
        model.fc3.bias[0] += 100.0  # every window is background: the map holds none
    empty = run_explanation(request(model, x))
    assert empty.summary.checks == ()
    assert "Sum-to-score" not in summary_text(empty.summary)


def test_a_region_target_from_python_is_checked_over_the_whole_volume():
    torch.manual_seed(0)
    unet = TinyUNet(classes=2).eval()
    x = noise_volume((8, 8, 16))
    target = region_target(1)
    outcome = run_explanation(request(unet, x, target=target, layer="enc", window=8, stride=8))
    summary = outcome.summary
    assert (summary.class_names, summary.probabilities, summary.n_windows) == ((), (), 2)
    [check] = summary.checks
    # Y: channel 1 of the stitched prediction summed over every voxel
    prediction = predict_volume(unet, x, window=8, stride=8)
    assert check.score == pytest.approx(float(prediction[1].sum(dtype=np.float64)), rel=1e-5)
    assert check.label == "class 1, the whole volume"
    assert abs(check.residual) < 1e-3 * max(1.0, abs(check.score))
    assert (
        summary_text(summary).splitlines()[0] == "2 window(s) explained (those touching the region)"
    )


def test_the_layers_metadata_says_what_was_explained_and_how():
    model, x = tiny_cnn1(), noise_volume()
    outcome = run_explanation(request(model, x, target=1, method="grad"))
    metadata = outcome_metadata(outcome)
    assert {k: metadata[k] for k in ("model", "layer", "target", "method", "volume")} == {
        "model": "tiny",
        "layer": "maxpool2",
        "target": "proteasome",
        "method": "Grad-CAM",
        "volume": "tomo",
    }
    assert (metadata["device"], metadata["precision"]) == ("cpu", "fp32")
    assert metadata["sum_to_score"][0]["class"] == "proteasome"


def block_mean(volume, factor):
    """The volume averaged over factor-sided cubes, the far leftover dropped."""
    cut = [n // factor for n in volume.shape]
    trimmed = volume[tuple(slice(0, n * factor) for n in cut)].astype(np.float64)
    split = [s for n in cut for s in (n, factor)]
    return trimmed.reshape(split).mean(axis=(1, 3, 5)).astype(np.float32)


def test_a_binned_tiled_run_maps_back_onto_the_tomograms_grid():
    model, x = tiny_cnn1(), noise_volume((33, 36, 40))
    before = x.copy()
    outcome = run_explanation(request(model, x, target=1, binning=2, where_predicted=False))

    binned, windows = explain_volume(
        model, block_mean(x, 2), "maxpool2", target=1, stride=8, return_windows=True
    )
    assert outcome.heatmap.shape == (33, 36, 40)
    np.testing.assert_allclose(outcome.heatmap[:32:2, ::2, ::2], binned, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(outcome.heatmap[:32:2], outcome.heatmap[1:32:2])  # cubes
    np.testing.assert_array_equal(outcome.heatmap[32], outcome.heatmap[31])  # the leftover
    best = windows.starts[int(np.argmax(windows.scores))] * 2
    [check] = outcome.summary.checks
    assert check.label == f"proteasome, best window at ({', '.join(str(s) for s in best)})"
    np.testing.assert_array_equal(x, before)


def test_a_volume_binned_to_the_models_size_is_explained_in_one_pass():
    model, x = tiny_cnn1(), noise_volume((32, 33, 33))
    progress = Recorder()
    outcome = run_explanation(request(model, x, binning=2), progress)
    assert progress.calls == [(0, 1), (1, 1)]
    expected = explain(model, block_mean(x, 2), "maxpool2")
    assert outcome.heatmap.shape == (32, 33, 33)
    top = np.abs(expected.heatmap).max()
    np.testing.assert_allclose(
        outcome.heatmap[::2, :32:2, :32:2], expected.heatmap[0], rtol=1e-4, atol=1e-5 * top
    )
    np.testing.assert_array_equal(outcome.heatmap[:, 32], outcome.heatmap[:, 31])


def test_preprocessing_is_applied_and_recorded_with_the_binning():
    model, x = tiny_cnn1(), noise_volume() * 500 + 2000
    model.preprocessing = Preprocessing("zscore-window")
    outcome = run_explanation(request(model, x))
    z = (x - x.mean()) / x.std()
    reference = explain(model, z, "maxpool2", preprocessing="none").heatmap[0]
    np.testing.assert_allclose(
        outcome.heatmap, reference, rtol=1e-4, atol=1e-5 * np.abs(reference).max()
    )
    metadata = outcome_metadata(outcome)
    assert metadata["preprocessing"] == {
        "kind": "zscore-window",
        "low": 1.0,
        "high": 99.0,
        "invert": False,
    }
    assert metadata["binning"] == 1
    chosen = Preprocessing("percentile", low=2, high=98, invert=True)
    other = outcome_metadata(run_explanation(request(model, x, preprocessing=chosen)))
    assert other["preprocessing"] == chosen.to_json()


def test_a_far_voxel_size_warns_with_the_binning_to_use():
    model, x = tiny_cnn1(), noise_volume()
    model.voxel_size_a = 11.4
    far = dataclasses.replace(request(model, x), voxel_size_a=(5.7, 5.7, 5.7))
    with pytest.warns(UserWarning, match=r"bin it by 2 \(binning=2 in Python, --bin 2"):
        run_explanation(far)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_explanation(dataclasses.replace(far, voxel_size_a=11.0))


def test_a_binning_that_does_not_fit_is_refused_before_any_work():
    model, x = tiny_cnn1(), noise_volume()
    progress = Recorder()
    with pytest.raises(RespondCamError, match=r"from 1 to the volume's shortest side \(16"):
        run_explanation(request(model, x, binning=17), progress)
    assert progress.calls == []


def test_all_classes_read_the_tomograms_statistics_once(monkeypatch):
    calls = []

    def counted(function):
        def wrapper(*args, **kwargs):
            calls.append(args[1])
            return function(*args, **kwargs)

        return wrapper

    # Both names the code may look the function up under.
    for module in (volume_statistics_module, volume_explainer):
        monkeypatch.setattr(module, "volume_statistics", counted(module.volume_statistics))
    model, x = tiny_cnn1(), noise_volume((16, 16, 24)) * 400 + 3000
    before = x.copy()
    chosen = Preprocessing("percentile", low=2, high=98)
    progress = Recorder()

    every = request(model, x, target="all", preprocessing=chosen, where_predicted=False)
    outcome = run_explanation(every, progress)

    assert calls == [chosen]
    statistics = volume_statistics_module.volume_statistics(x, chosen)
    for k in range(3):
        alone = explain_volume(
            model, x, "maxpool2", target=k, stride=8, preprocessing=chosen, statistics=statistics
        )
        np.testing.assert_allclose(outcome.heatmap[k], alone, rtol=1e-6)
    # the statistics pass in blocks (one block, two passes), then 2 windows x 3 classes
    assert progress.calls[:3] == [(0, 2), (1, 2), (2, 2)]
    assert progress.calls[3:] == [(0, 6), (2, 6), (2, 6), (4, 6), (4, 6), (6, 6)]
    np.testing.assert_array_equal(x, before)


def test_cancelling_the_statistics_pass_stops_an_all_classes_run_before_any_window():
    model, x = tiny_cnn1(), noise_volume((16, 16, 24))
    progress = Recorder(stop_after=0)
    with pytest.raises(Cancelled):
        run_explanation(request(model, x, target="all", preprocessing="percentile"), progress)
    assert progress.calls == [(0, 2)]


def _split_model():
    """tiny_cnn1, its class 1 lifted so that on noise_volume((24, 32, 32)) its 18 windows
    split between classes 0 and 1 (their logits differ by 0.4588 to 0.4649)."""
    model = tiny_cnn1()
    with torch.no_grad():
        model.fc3.bias[1] += 0.4610
    return model


def test_a_chosen_class_run_finds_no_detections():
    # Its windows' scores are the chosen class's and its map holds no other class, so it
    # cannot say what each window found (a user sweep saw class 0 rows with class 1 scores).
    model, x = _split_model(), noise_volume((24, 32, 32))
    assert run_explanation(request(model, x, target=1)).detections is None
    assert run_explanation(request(model, x, target="all")).detections is None
    assert len(run_explanation(request(model, x)).detections)


def test_detections_of_a_binned_run_search_half_a_stride_of_the_volumes_voxels():
    model, x = _split_model(), noise_volume((48, 64, 64))
    outcome = run_explanation(request(model, x, binning=2))
    record = explain_volume(
        model, x, "maxpool2", stride=8, binning=2, batch_size=4, return_windows=True
    )[1]
    assert record.window == (32, 32, 32)  # in the volume's voxels
    windows = detections(record, CLASSES, None)
    # Stride 8 binned voxels is 16 of the volume's: the search reaches 8 voxels each way.
    wide = merged(at_map_peaks(windows, lambda k: outcome.heatmap, (8, 8, 8)), radius=8)
    narrow = merged(at_map_peaks(windows, lambda k: outcome.heatmap, (4, 4, 4)), radius=4)
    np.testing.assert_array_equal(outcome.detections.centres, wide.centres)
    assert len(wide) != len(narrow) or not np.array_equal(wide.centres, narrow.centres)


class PhaseRecorder(Recorder):
    """A progress callback that also hears which pass begins."""

    def start_phase(self, phase):
        self.calls.append(phase)


def _passes(calls):
    """Each pass's name and its reports, in order."""
    passes = []
    for call in calls:
        if isinstance(call, tuple):
            passes[-1][1].append(call)
        else:
            passes.append((call.words, []))
    return passes


def test_each_pass_of_a_run_is_named_before_its_reports():
    model, x = tiny_cnn1(), noise_volume((16, 16, 24))
    model.preprocessing = Preprocessing("zscore-tomogram")
    progress = PhaseRecorder()

    run_explanation(request(model, x, target="all"), progress)

    [(statistics, blocks), (explaining, windows)] = _passes(progress.calls)
    assert (statistics, explaining) == (STATISTICS.words, EXPLANATION.words)
    assert blocks[0][0] == 0 and blocks[-1][0] == blocks[-1][1]
    assert windows[0] == (0, 6) and windows[-1] == (6, 6)  # 2 windows x 3 classes


def test_a_run_without_statistics_has_one_named_pass():
    model, x = tiny_cnn1(), noise_volume((16, 16, 24))
    progress = PhaseRecorder()

    run_explanation(request(model, x), progress)

    assert _passes(progress.calls) == [(EXPLANATION.words, [(0, 2), (2, 2)])]
