"""A dense (per-voxel) model through the run layer: a channel over a region, sum-to-score."""

import numpy as np
import pytest
import torch

from napari_respond_cam import RespondCamError, explain, explain_volume, region_target
from napari_respond_cam.runs.choices import channel_argument, default_channel
from napari_respond_cam.runs.explain_run import outcome_metadata, run_explanation
from napari_respond_cam.runs.regions import Region
from napari_respond_cam.runs.request import ExplainRequest, ExplainSettings
from napari_respond_cam.runs.summary import summary_text
from napari_respond_cam.tiling.predict_volume import predict_volume
from napari_respond_cam.tiling.progress import EXPLANATION, PREDICTION, Phase
from tiny_classifier import noise_volume, tiny_cnn1
from toy_models import TinyUNet

CHANNELS = ("background", "membrane", "ribosome")


def unet(bias=False, background_class=None):
    torch.manual_seed(0)
    model = TinyUNet(classes=3, bias=bias).eval()
    model.class_names = CHANNELS
    if background_class is not None:
        model.background_class = background_class
    return model


def dense_request(model, volume, window=8, region_labels=None, **chosen):
    settings = ExplainSettings(layer="dec", device="cpu", window=window, stride=4, **chosen)
    return ExplainRequest(
        model, volume, settings, class_names=CHANNELS, region_labels=region_labels
    )


def test_the_defaults_explain_the_first_channel_after_background_where_it_is_predicted():
    # After "dec" only a bias-free 1x1 convolution: linear, beta = 0, so sum = Y.
    model, x = unet(), noise_volume((8, 12, 16))
    before = x.copy()

    outcome = run_explanation(dense_request(model, x))

    prediction = predict_volume(model, x, window=8, stride=4)
    region = prediction.argmax(axis=0) == 1
    y = float((prediction[1] * region).sum(dtype=np.float64))
    [check] = outcome.summary.checks
    assert region.any() and not region.all()
    assert check.score == pytest.approx(y, rel=1e-5)
    assert check.cam_sum == pytest.approx(y, rel=1e-4)
    assert abs(check.bias) <= 1e-4 * abs(y)
    assert float(outcome.heatmap.sum(dtype=np.float64)) == pytest.approx(y, rel=1e-4)
    assert (outcome.explained.channel, outcome.explained.channel_name) == (1, "membrane")
    text = summary_text(outcome.summary).splitlines()
    assert text[0] == (
        "Channel: membrane (the first channel after channel 0, taken as background; the default)."
    )
    assert text[1] == "Region: where the model predicts membrane (the default)."
    assert text[-1].startswith(f"  membrane, where the model predicts membrane: score {y:.4g}")
    np.testing.assert_array_equal(x, before)


def test_with_biases_a_labels_region_sums_to_score_minus_bias():
    model, x = unet(bias=True), noise_volume((8, 12, 16), seed=1)
    labels = np.zeros(x.shape, dtype=np.int32)
    labels[2:6, 3:9, 4:12] = 5
    labels[0, 0, 0] = 2
    chosen = Region("labels", label=5)

    outcome = run_explanation(
        dense_request(model, x, region_labels=labels, channel=2, region=chosen)
    )

    prediction = predict_volume(model, x, window=8, stride=4)
    y = float(prediction[2][labels == 5].sum(dtype=np.float64))
    [check] = outcome.summary.checks
    assert check.score == pytest.approx(y, rel=1e-5)
    assert abs(check.residual) <= 1e-3 * abs(y)
    assert abs(check.bias) > 1e-3 * abs(y)  # the biases do matter here
    metadata = outcome_metadata(outcome)
    assert (metadata["channel"], metadata["region"]) == ("ribosome", "label 5")
    assert metadata["target"] == "ribosome, label 5"
    assert metadata["notes"] == ["Channel: ribosome.", "Region: label 5."]
    [entry] = metadata["sum_to_score"]
    assert (entry["score"], entry["cam_sum"], entry["bias"]) == (
        check.score,
        check.cam_sum,
        check.bias,
    )


def test_one_window_covering_the_volume_is_the_untiled_explanation():
    model, x = unet(bias=True), noise_volume((8, 8, 8), seed=2)
    outcome = run_explanation(dense_request(model, x, window=16, region=Region("whole"), channel=1))
    alone = explain(model, x, "dec", target=region_target(1))
    np.testing.assert_allclose(outcome.heatmap, alone.heatmap[0], rtol=1e-5, atol=1e-6)
    [check] = outcome.summary.checks
    assert outcome.summary.n_windows == 1
    assert check.score == pytest.approx(float(alone.scores[0]), rel=1e-5)
    assert check.bias == pytest.approx(float(alone.bias[0]), rel=1e-4, abs=1e-5)


def test_the_background_class_of_the_model_moves_the_default_channel():
    model, x = unet(background_class=1), noise_volume((8, 8, 8))
    outcome = run_explanation(dense_request(model, x, region=Region("whole")))
    assert outcome.explained.channel == 0
    assert outcome.summary.notes[0] == (
        "Channel: background (the first channel that is not the background (channel 1); "
        "the default)."
    )


def test_default_and_named_channels():
    assert default_channel(1, None) == (0, "the model's only channel")
    assert default_channel(3, None)[0] == 1
    assert default_channel(3, 0)[0] == 1
    assert default_channel(3, 2)[0] == 0
    assert channel_argument("ribosome", CHANNELS) == 2
    assert channel_argument("1", CHANNELS) == 1
    assert channel_argument(None, CHANNELS) is None
    with pytest.raises(RespondCamError, match=r"Channel 3 is out of range.*0 to 2.*--channel"):
        channel_argument("3", CHANNELS)
    with pytest.raises(RespondCamError, match=r"'lipid' is not an output channel.*'membrane'"):
        channel_argument("lipid", CHANNELS)


def test_a_class_target_on_a_dense_model_says_to_choose_a_channel_and_region():
    model, x = unet(), noise_volume((8, 8, 8))
    before = x.copy()
    with pytest.raises(RespondCamError, match=r"map per voxel \(3 channel\(s\)\).*--channel.*"
                       r"--region on the command line"):  # fmt: skip
        run_explanation(dense_request(model, x, target=1))
    np.testing.assert_array_equal(x, before)


def test_a_region_on_a_classifier_says_to_choose_a_class():
    model, x = tiny_cnn1(), noise_volume()
    settings = ExplainSettings(layer="maxpool2", device="cpu", region=Region("whole"))
    with pytest.raises(RespondCamError, match=r"one score per class.*--target on the command"):
        run_explanation(ExplainRequest(model, x, settings))


def test_a_channel_the_prediction_never_shows_is_refused_with_advice():
    model, x = unet(), noise_volume((8, 8, 8))
    with torch.no_grad():
        model.out.weight[0] += 100.0  # channel 0 wins everywhere
    with pytest.raises(RespondCamError, match="predicts this channel nowhere"):
        run_explanation(dense_request(model, np.abs(x) + 1, channel=2))


def test_predicted_class_on_a_tiled_classifier_skips_background_and_finds_detections():
    model, x = tiny_cnn1(), noise_volume((16, 16, 64), seed=3)
    # The untrained model calls every window class 0: lower class 0's bias to the median
    # margin, so that about half the windows call another class.
    log_p = np.log(
        explain_volume(model, x, "maxpool2", stride=8, return_windows=True)[1].probabilities
    )
    with torch.no_grad():
        model.fc3.bias[0] -= float(np.median(log_p[:, 0] - log_p[:, 1:].max(axis=1)))
    votes = explain_volume(model, x, "maxpool2", stride=8, return_windows=True)[1].predicted
    model.background_class = 0
    assert 0 < np.count_nonzero(votes == 0) < len(votes)
    settings = ExplainSettings(layer="maxpool2", device="cpu", window=16, stride=8)
    outcome = run_explanation(ExplainRequest(model, x, settings, class_names=model.class_names))

    expected = explain_volume(
        model, x, "maxpool2", stride=8, background_class=model.background_class
    )
    np.testing.assert_allclose(outcome.heatmap, expected, rtol=1e-6)
    name = model.class_names[model.background_class]
    note = f"Windows the model calls {name} (its background class) add nothing to the map."
    assert outcome.summary.notes == (note,)
    assert outcome_metadata(outcome)["notes"] == [note]
    found = outcome.detections
    assert len(found) == int((votes != model.background_class).sum())
    assert name not in found.class_names


def test_binning_a_dense_models_volume_is_refused_before_any_work():
    model, x = unet(), noise_volume((8, 8, 16))
    calls = []
    with pytest.raises(RespondCamError, match=r"binning by 2 would change; explain it unbinned "
                       r"\(binning=1 in Python, --bin 1"):  # fmt: skip
        run_explanation(dense_request(model, x, binning=2), lambda *c: calls.append(c))
    assert calls == []


def test_a_tomogram_all_background_gets_an_empty_map_and_says_so():
    model, x = tiny_cnn1(), noise_volume((16, 16, 32), seed=3)
    votes = explain_volume(model, x, "maxpool2", stride=8, return_windows=True)[1].predicted
    model.background_class = int(votes[0])
    with torch.no_grad():  # the background logit wins in every window
        model.fc3.bias[model.background_class] += 1000.0
    settings = ExplainSettings(layer="maxpool2", device="cpu", window=16, stride=8)
    outcome = run_explanation(ExplainRequest(model, x, settings, class_names=model.class_names))
    assert not outcome.heatmap.any()
    name = model.class_names[model.background_class]
    assert outcome.summary.notes == (
        f"The model calls every window {name} (its background class), so the map is empty: "
        "it found nothing to explain. To see the evidence for a class anyway, choose that "
        "class (target in Python, --target on the command line, the 'target class' control "
        "in napari).",
    )
    assert len(outcome.detections) == 0


def test_a_dense_models_prediction_and_explanation_are_named_passes():
    model, x = unet(), noise_volume((8, 12, 16))
    heard = []

    class Named:
        def __call__(self, done, total):
            heard.append((done, total))

        def start_phase(self, phase):
            heard.append(phase)

    run_explanation(dense_request(model, x), Named())

    phases = [i for i, call in enumerate(heard) if isinstance(call, Phase)]
    assert [heard[i] for i in phases] == [PREDICTION, EXPLANATION]
    predicting, explaining = heard[phases[0] + 1 : phases[1]], heard[phases[1] + 1 :]
    assert predicting[0] == (0, 6) and predicting[-1] == (6, 6)  # 1 x 2 x 3 windows of 8
    assert explaining[0][0] == 0 and explaining[-1][0] == explaining[-1][1]


def test_a_region_that_does_not_fit_is_refused_before_the_statistics_pass():
    model, x = unet(), noise_volume((8, 12, 16))
    model.preprocessing = "zscore-tomogram"
    labels = np.zeros(x.shape, dtype=np.int32)
    labels[1:3, 1:3, 1:3] = 2  # label 5 is drawn nowhere
    heard = []
    chosen = Region("labels", label=5)
    with pytest.raises(RespondCamError, match="label 5"):
        run_explanation(
            dense_request(model, x, region_labels=labels, channel=1, region=chosen),
            lambda done, total: heard.append((done, total)),
        )
    assert heard == []  # not one block of the tomogram was read for its statistics
