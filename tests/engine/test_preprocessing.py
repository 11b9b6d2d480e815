"""Preprocessing: each formula on hand-computed numbers, its names, and explain applying it."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from napari_respond_cam import RespondCamError, explain, explain_volume
from napari_respond_cam.engine.preprocessing import (
    PREPROCESSING_LABELS,
    IntensityStatistics,
    Preprocessing,
    StatisticsTensors,
    resolve_preprocessing,
    statistics_of,
)
from napari_respond_cam.engine.run_setup import RunSetup
from tiny_classifier import tiny_cnn1

NO_PERCENTILES = (float("nan"),)


def stats(mean=(0.0,), std=(1.0,), low=NO_PERCENTILES, high=NO_PERCENTILES):
    return IntensityStatistics(tuple(mean), tuple(std), tuple(low), tuple(high))


def test_zscore_per_window_scales_each_sample_and_channel_on_its_own():
    # [1, 2, 3, 6]: mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5
    x = torch.tensor([[[1.0, 2, 3, 6]], [[15.0, 25, 35, 65]], [[7.0, 7, 7, 7]]])
    out = Preprocessing("zscore-window").apply(x)
    expected = (np.array([1, 2, 3, 6]) - 3) / np.sqrt(3.5)
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(out[1, 0], expected, rtol=1e-6)  # 10 x + 5: the same
    np.testing.assert_array_equal(out[2, 0], [0, 0, 0, 0])  # a constant window: zeros
    inverted = Preprocessing("zscore-window", invert=True).apply(x)
    np.testing.assert_allclose(inverted[0, 0], -expected, rtol=1e-6)


def test_zscore_over_the_tomogram_uses_the_statistics_per_channel():
    x = torch.tensor([[[2.0, 6.0, -2.0], [10.0, 11.0, 12.0]]])  # (N=1, C=2, 3)
    out = Preprocessing("zscore-tomogram").apply(x, stats(mean=(2, 11), std=(4, 0.5)))
    np.testing.assert_allclose(out[0], [[0, 1, -1], [-2, 0, 2]])
    constant = Preprocessing("zscore-tomogram").apply(x[:, :1], stats(mean=(2,), std=(0,)))
    np.testing.assert_array_equal(constant[0, 0], [0, 4, -4])  # std 0 divides by 1


def test_percentile_scaling_clips_to_zero_one_and_inversion_mirrors_it():
    x = torch.tensor([[[0.0, 10, 20, 30, 40]]])
    bounds = stats(low=(10,), high=(30,))
    np.testing.assert_allclose(
        Preprocessing("percentile").apply(x, bounds)[0, 0], [0, 0, 0.5, 1, 1]
    )
    np.testing.assert_allclose(
        Preprocessing("percentile", invert=True).apply(x, bounds)[0, 0], [1, 1, 0.5, 0, 0]
    )


def test_none_passes_raw_voxels_and_inverts_by_negating():
    x = torch.tensor([[[1.5, -2.0]]])
    assert Preprocessing().apply(x) is x
    np.testing.assert_array_equal(Preprocessing(invert=True).apply(x)[0, 0], [-1.5, 2.0])
    np.testing.assert_array_equal(x[0, 0], [1.5, -2.0])  # the input is not modified


def test_batch_statistics_are_numpys_mean_std_and_percentiles_per_channel():
    batch = np.stack([np.arange(11.0), 100 - np.arange(11.0)])[None]  # (1, 2, 11)
    found = statistics_of(batch, Preprocessing("percentile", low=10, high=90))
    assert found.mean == (5.0, 95.0)
    np.testing.assert_allclose(found.std, [np.sqrt(10), np.sqrt(10)])
    assert (found.low, found.high) == ((1.0, 91.0), (9.0, 99.0))
    assert np.isnan(statistics_of(batch, Preprocessing("zscore-tomogram")).low).all()


def test_names_labels_and_json_round_trip():
    assert list(PREPROCESSING_LABELS) == ["none", "zscore-window", "zscore-tomogram", "percentile"]
    chosen = Preprocessing("percentile", low=0.5, high=99.5, invert=True)
    assert Preprocessing.from_json(chosen.to_json()) == chosen
    assert chosen.to_json() == {"kind": "percentile", "low": 0.5, "high": 99.5, "invert": True}
    assert Preprocessing.from_json("zscore-window") == Preprocessing("zscore-window")
    assert chosen.label == "percentile clipping and scaling (0.5-99.5 %), inverted"
    assert Preprocessing("zscore-window").label == "z-score per window"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"kind": "zscore"},
            r"Unknown preprocessing 'zscore'; choose one of 'none', .*--preprocessing",
        ),
        ({"kind": "percentile", "low": 99, "high": 1}, r"0 <= low < high <= 100, not low=99"),
        ({"kind": "percentile", "high": "99"}, r"not low=1.0, high=99"),
        ({"invert": "yes"}, r"invert must be True or False, not 'yes'"),
    ],
)
def test_a_wrong_preprocessing_says_what_to_choose(arguments, message):
    given = dict(arguments)
    with pytest.raises(RespondCamError, match=message):
        Preprocessing(**arguments)
    assert arguments == given


def test_the_models_own_applies_unless_another_is_chosen():
    model = tiny_cnn1()
    assert resolve_preprocessing(None, model) == Preprocessing()
    model.preprocessing = Preprocessing("zscore-window")
    assert resolve_preprocessing(None, model) == Preprocessing("zscore-window")
    assert resolve_preprocessing("none", model) == Preprocessing()
    assert resolve_preprocessing(Preprocessing("percentile"), model).kind == "percentile"


def test_explain_maps_explain_the_preprocessed_input():
    model = tiny_cnn1()
    x = np.random.default_rng(0).normal(3000, 800, size=(2, 1, 16, 16, 16)).astype(np.float32)
    before = x.copy()
    z = (x - x.mean(axis=(2, 3, 4), keepdims=True)) / x.std(axis=(2, 3, 4), keepdims=True)
    reference = explain(model, z, "maxpool2", preprocessing="none")
    given = explain(model, x, "maxpool2", preprocessing="zscore-window")
    np.testing.assert_allclose(given.cam, reference.cam, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(given.scores, reference.scores, rtol=1e-4)
    model.preprocessing = Preprocessing("zscore-window")
    own = explain(model, x, "maxpool2")  # the model's own, by default
    np.testing.assert_allclose(own.cam, given.cam, rtol=1e-6)
    np.testing.assert_array_equal(x, before)


def test_explains_tomogram_statistics_are_the_batchs():
    model = tiny_cnn1()
    x = np.random.default_rng(1).normal(5, 2, size=(3, 1, 16, 16, 16))
    batch_scaled = (x - x.mean()) / x.std()  # over all three samples together
    reference = explain(model, batch_scaled, "maxpool2", preprocessing="none")
    given = explain(model, x, "maxpool2", preprocessing="zscore-tomogram")
    np.testing.assert_allclose(given.cam, reference.cam, rtol=1e-4, atol=1e-6)


def test_the_names_are_listed_without_importing_torch():
    code = (
        "import sys; from napari_respond_cam.engine.preprocessing import PREPROCESSING_LABELS; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(
    "chosen",
    [
        Preprocessing("zscore-window"),
        Preprocessing("zscore-tomogram", invert=True),
        Preprocessing("percentile", low=5, high=95),
    ],
)
def test_half_inputs_of_raw_voxel_values_are_scaled_in_float32(chosen):
    # Centred raw values of ~800 square to ~640 000, past float16's largest, 65 504.
    raw = np.random.default_rng(2).normal(3000, 800, size=(2, 1, 6, 6, 6))
    half = torch.from_numpy(raw).half()
    statistics = statistics_of(half.float(), chosen)
    before = half.clone()
    out = chosen.apply(half, statistics)
    expected = chosen.apply(half.float(), statistics)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    assert expected.abs().max() > 0.5  # a real scaling, not zeros
    np.testing.assert_allclose(out.float(), expected, rtol=1e-3, atol=1e-3)
    assert torch.equal(half, before)


def test_inputs_come_out_in_the_dtype_asked_for():
    x = torch.tensor([[[1.0, 2, 3, 6]]], dtype=torch.float64)
    out = Preprocessing("zscore-window").apply(x, dtype=torch.float16)
    assert out.dtype == torch.float16
    expected = (np.array([1, 2, 3, 6]) - 3) / np.sqrt(3.5)
    np.testing.assert_allclose(out[0, 0].double(), expected, rtol=1e-3)
    assert Preprocessing().apply(x, dtype=torch.float32).dtype == torch.float32


def test_a_half_model_explains_raw_voxels_as_the_float_model_does():
    volume = np.random.default_rng(0).normal(3000, 800, (24, 20, 18)).astype(np.float32)
    before = volume.copy()
    options = {"target": 1, "stride": 8, "preprocessing": "zscore-window"}
    reference = explain_volume(tiny_cnn1(), volume, "maxpool2", **options)
    halved = explain_volume(tiny_cnn1().half(), volume, "maxpool2", **options)
    top = np.abs(reference).max()
    assert top > 0
    np.testing.assert_allclose(halved, reference, rtol=0, atol=1e-2 * top)
    np.testing.assert_array_equal(volume, before)


def test_the_setup_holds_the_statistics_on_its_device_in_float32():
    model = tiny_cnn1()
    chosen = Preprocessing("percentile", low=10, high=90)
    setup = RunSetup.prepare(
        model, "maxpool2", method="respond", precision="fp32", device="cpu", preprocessing=chosen
    )
    x = torch.arange(11.0).reshape(1, 1, 11)
    held = setup.with_statistics(statistics_of(x, chosen)).statistics
    assert isinstance(held, StatisticsTensors)
    assert [held.low.item(), held.high.item()] == [1.0, 9.0]
    assert held.low.dtype == torch.float32 and held.low.device.type == "cpu"
    scaled = chosen.apply(x, held)
    np.testing.assert_allclose(scaled[0, 0], np.clip((np.arange(11) - 1) / 8, 0, 1), rtol=1e-6)
