"""explain_volume: stitched maps against hand-computed ones and against explain()."""

import threading
import time
from contextlib import nullcontext

import dask.array as da
import numpy as np
import pytest
import torch
from torch import nn

from array_likes import SlicedOnly
from napari_respond_cam import Cancelled, explain, explain_layers, explain_volume, region_target
from napari_respond_cam.engine.preprocessing import (
    IntensityStatistics,
    Preprocessing,
    StatisticsTensors,
)
from napari_respond_cam.engine.run_setup import RunSetup
from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.tiling import volume_explainer
from napari_respond_cam.tiling.overlap import BatchOverlap
from napari_respond_cam.tiling.volume_statistics import volume_statistics
from tiny_classifier import noise_volume, tiny_cnn1
from toy_models import GapHead, TinyUNet


def small_cnn() -> CNN1:
    torch.manual_seed(0)
    return CNN1(num_classes=3, input_size=16, channels=(4, 4, 8, 8), dense=(16, 16))


def gap_head() -> GapHead:
    torch.manual_seed(3)
    return GapHead(dims=3, width=3, classes=2)


def gap_slope(model: GapHead, target: int, window: int) -> float:
    """For a 1x1 conv + global average pool + linear head, Grad-CAM is c * x in every window.

    A_k = f_k x and G_k = W_tk / N (N voxels in a window), so L = sum_k W_tk f_k x / N.
    """
    weights = model.fc.weight.detach()[target].double()
    filters = model.features.weight.detach().flatten().double()
    return float((weights * filters).sum()) / window**3


@pytest.fixture
def volume() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(21, 19, 26)).astype(np.float32)


def test_constant_maps_stitch_into_a_constant_volume_with_edges_covered():
    # A constant input gives the same constant map in every window; any seam, gap or
    # double-counted edge would show as a different value.
    model = gap_head()
    heatmap = explain_volume(
        model, np.full((21, 19, 13), 2.0), "features", target=0, window=8, stride=5
    )
    expected = 2.0 * gap_slope(model, 0, 8)
    assert heatmap.shape == (21, 19, 13) and heatmap.dtype == np.float32
    np.testing.assert_allclose(heatmap, expected, rtol=1e-5)


@pytest.mark.parametrize("shape", [(21, 19, 26), (5, 19, 26)])
def test_a_map_proportional_to_the_input_is_stitched_exactly(shape):
    # Grad-CAM of the GAP head is c * x in every window, so the blend must give c * x;
    # (5, ...) is shorter than the window along z: padded, with a note.
    model = gap_head()
    x = np.random.default_rng(1).random(shape)
    padded = shape[0] < 8
    with pytest.warns(UserWarning, match="smaller than the window") if padded else nullcontext():
        heatmap = explain_volume(model, x, "features", target=1, method="grad", window=8)
    np.testing.assert_allclose(heatmap, gap_slope(model, 1, 8) * x, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("method", ["respond", "grad"])
def test_a_volume_of_exactly_one_window_equals_explain(method):
    model = small_cnn()
    x = np.random.default_rng(2).random((16, 16, 16)).astype(np.float32)
    heatmap, windows = explain_volume(model, x, "maxpool2", method=method, return_windows=True)
    reference = explain(model, x, "maxpool2", method=method)
    np.testing.assert_allclose(heatmap, reference.heatmap[0], rtol=1e-6, atol=1e-12)
    assert windows.starts.tolist() == [[0, 0, 0]]
    assert windows.targets.tolist() == reference.targets.tolist()
    np.testing.assert_allclose(windows.scores, reference.scores, rtol=1e-6)
    np.testing.assert_allclose(windows.probabilities, reference.probabilities, rtol=1e-5)


def test_per_window_predictions_match_explain_on_the_windows(volume):
    model = small_cnn()
    _, windows = explain_volume(model, volume, "maxpool2", return_windows=True, batch_size=5)
    cut = np.stack([volume[z : z + 16, y : y + 16, x : x + 16] for z, y, x in windows.starts])
    reference = explain(model, cut[:, None], "maxpool2")
    assert len(windows) == 2 * 2 * 3  # z starts 0, 5; y 0, 3; x 0, 8, 10
    assert windows.starts[:, 2].tolist()[:3] == [0, 8, 10]
    assert windows.targets.tolist() == reference.targets.tolist()
    np.testing.assert_allclose(windows.scores, reference.scores, rtol=1e-5)
    np.testing.assert_allclose(windows.probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert windows.predicted.tolist() == reference.logits.argmax(axis=1).tolist()
    np.testing.assert_allclose(windows.centres[0], [7.5, 7.5, 7.5])
    # Each window's own sum-to-score numbers, as explain gives them for that window.
    np.testing.assert_allclose(windows.cam_sums, reference.cam_sums, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(windows.bias, reference.bias, rtol=1e-4, atol=1e-6)


def test_windows_padded_at_a_short_edge_record_the_numbers_of_what_the_model_saw():
    model = small_cnn()
    short = np.random.default_rng(1).normal(size=(12, 16, 20)).astype(np.float32)
    with pytest.warns(UserWarning, match="smaller than the window"):
        _, windows = explain_volume(model, short, "maxpool2", return_windows=True)
    # The tiler pads each window at the far end with its own mean (per channel).
    cut = [short[:, y : y + 16, x : x + 16] for _, y, x in windows.starts]
    padded = np.stack([np.pad(c, ((0, 4), (0, 0), (0, 0)), constant_values=c.mean()) for c in cut])
    reference = explain(model, padded[:, None], "maxpool2")
    np.testing.assert_allclose(windows.scores, reference.scores, rtol=1e-4)
    np.testing.assert_allclose(windows.cam_sums, reference.cam_sums, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(windows.bias, reference.bias, rtol=1e-4, atol=1e-6)


def test_memmap_dask_and_sliced_inputs_give_the_in_memory_result(volume, tmp_path):
    model = small_cnn()
    expected = explain_volume(model, volume, "maxpool2")
    mapped = read_mrc(write_mrc(tmp_path / "v.mrc", volume)).data
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(explain_volume(model, mapped, "maxpool2"), expected)
    lazy = da.from_array(volume, chunks=(8, 8, 8))
    np.testing.assert_array_equal(explain_volume(model, lazy, "maxpool2"), expected)
    sliced = SlicedOnly(volume)
    np.testing.assert_array_equal(explain_volume(model, sliced, "maxpool2"), expected)
    assert sliced.largest <= 16 * 16 * 26 < volume.size  # one row of windows at a time


def test_output_accumulates_into_a_given_memmap_and_the_input_is_untouched(volume, tmp_path):
    model = small_cnn()
    before = volume.copy()
    out = np.lib.format.open_memmap(tmp_path / "o.npy", "w+", np.float32, volume.shape)
    out[:] = 7.0  # stale content is cleared first
    result = explain_volume(model, volume, "maxpool2", out=out)
    assert result is out
    np.testing.assert_array_equal(out, explain_volume(model, volume, "maxpool2"))
    np.testing.assert_array_equal(volume, before)


def test_cancellation_stops_between_batches(volume):
    model = small_cnn()
    forwards = []
    model.register_forward_hook(lambda module, args, output: forwards.append(len(output)))
    calls = []

    def progress(done, total):
        calls.append((done, total))
        return done < 4

    out = np.zeros(volume.shape, np.float32)
    with pytest.raises(Cancelled) as caught:
        explain_volume(model, volume, "maxpool2", batch_size=2, progress=progress, out=out)
    assert calls == [(0, 12), (2, 12), (4, 12)]
    assert (caught.value.done, caught.value.total) == (4, 12)
    assert forwards == [2, 2]
    assert out[:16, :16, :16].any() and not out[-3:, -3:].any()  # partial map kept in out


class WatchedVolume:
    """A volume that records which thread reads it, and when, against the model's calls."""

    def __init__(self, array, events):
        self.array, self.events, self.shape = array, events, array.shape

    def __getitem__(self, region):
        self.events.append(("read", threading.current_thread().name))
        return self.array[region]


def test_windows_are_read_ahead_in_a_helper_thread_while_the_model_runs(volume, monkeypatch):
    monkeypatch.setattr(volume_explainer, "host_work_runner", lambda device: BatchOverlap)
    model = small_cnn()
    events = []
    model.register_forward_hook(lambda module, args, output: events.append(("forward", "")))
    expected = explain_volume(model, volume, "maxpool2", batch_size=2)
    events.clear()
    model.register_forward_pre_hook(lambda module, args: time.sleep(0.05))  # a slow device
    heatmap = explain_volume(model, WatchedVolume(volume, events), "maxpool2", batch_size=2)
    np.testing.assert_array_equal(heatmap, expected)
    reads = {name for kind, name in events if kind == "read"}
    assert reads == {"respond-cam-read_0"}
    # the second batch's rows are read before the first batch's forward pass ends
    first_forward = events.index(("forward", ""))
    assert len([e for e in events[:first_forward] if e[0] == "read"]) > 1


def test_a_progress_callback_may_raise_cancelled(volume):
    def stop(done, total):
        raise Cancelled

    with pytest.raises(Cancelled):
        explain_volume(small_cnn(), volume, "maxpool2", progress=stop)


class RunsOutOfMemoryOnce(nn.Module):
    """Raises torch.OutOfMemoryError on its first batch of more than one window."""

    def __init__(self, model):
        super().__init__()
        self.model, self.batches, self.failed = model, [], False
        self.input_shape = model.input_shape

    def forward(self, x):
        self.batches.append(len(x))
        if len(x) > 1 and not self.failed:
            self.failed = True
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.model(x)


def test_out_of_memory_halves_the_batch_and_carries_on(volume):
    model = RunsOutOfMemoryOnce(small_cnn())
    expected = explain_volume(model.model, volume, "maxpool2")
    with pytest.warns(RuntimeWarning, match="4 windows per batch; continuing with 2"):
        heatmap = explain_volume(model, volume, "model.maxpool2", batch_size=4)
    assert model.batches == [4] + [2] * 6
    np.testing.assert_allclose(heatmap, expected, rtol=1e-5, atol=1e-12)


def test_out_of_memory_with_one_window_is_an_error(volume):
    model = RunsOutOfMemoryOnce(small_cnn())
    model.failed = False
    model.forward = lambda x: RunsOutOfMemoryOnce.forward(model, x.expand(2, *x.shape[1:]))
    with pytest.raises(RespondCamError, match="ran out of memory explaining a batch of 1"):
        explain_volume(model, volume, "model.maxpool2", batch_size=1)


def test_fixed_batch_models_get_padded_batches(volume):
    model = small_cnn()
    expected = explain_volume(model, volume, "maxpool2")
    model.fixed_batch_size = 5
    sizes = []
    model.register_forward_hook(lambda module, args, output: sizes.append(len(output)))
    np.testing.assert_allclose(explain_volume(model, volume, "maxpool2"), expected, rtol=1e-6)
    assert sizes == [5, 5, 5]  # 12 windows: 5 + 5 + 2 padded to 5


def test_channels_first_volume_and_a_larger_window_for_a_pooling_model():
    torch.manual_seed(0)
    model = GapHead(dims=3, in_channels=2, width=3, classes=2)
    x = np.random.default_rng(3).random((2, 10, 12, 14))
    heatmap = explain_volume(model, x, "features", window=(10, 12, 14), target=0, method="grad")
    reference = explain(model, x[None], "features", target=0, method="grad")
    np.testing.assert_allclose(heatmap, reference.heatmap[0], rtol=1e-5)


def test_a_plain_function_of_a_segmentation_output_is_explained_per_window_and_blended():
    # Only a RegionTarget means one region of the whole volume; any other function
    # scores each window on its own output grid, like explain.
    torch.manual_seed(0)
    model = TinyUNet()
    volume = np.random.default_rng(4).normal(size=(8, 8, 12)).astype(np.float32)
    mask = np.zeros((8, 8, 8), bool)
    mask[2:6, 2:6, 2:6] = True
    in_each_window = region_target(1, mask)

    def target(output):
        return in_each_window(output)

    heatmap, windows = explain_volume(
        model, volume, "enc", target=target, window=8, stride=4, batch_size=2, return_windows=True
    )
    assert windows.probabilities is None and windows.targets is None  # no classes here
    ref = explain(
        model, np.stack([volume[..., :8], volume[..., 4:]])[:, None], "enc", target=target
    )
    np.testing.assert_allclose(windows.scores, ref.scores, rtol=1e-5)
    np.testing.assert_allclose(heatmap[..., :4], ref.heatmap[0, ..., :4], rtol=1e-5, atol=1e-7)


def test_model_left_as_found(volume):
    model = small_cnn().train()
    explain_volume(model, volume, "maxpool2")
    assert model.training and all(m.training for m in model.modules())
    assert not any(m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "all"}, "one target in every window"),
        ({"target": [0, 1]}, "one target in every window"),
        ({"target": 7}, "out of range"),
        ({"batch_size": 0}, "batch_size must be a positive int"),
        ({"out": np.zeros((2, 2, 2), np.float32)}, "spatial shape"),
        ({"out": np.zeros((21, 19, 26), np.float64)}, "float32"),
        ({"method": "nope"}, "Unknown CAM method"),
        ({"layer": "maxpool9"}, "Did you mean"),
    ],
)
def test_user_errors(volume, kwargs, message):
    kwargs = {"layer": "maxpool2", **kwargs}
    with pytest.raises(RespondCamError, match=message):
        explain_volume(small_cnn(), volume, **kwargs)


def test_non_finite_values_are_refused_with_their_window(volume):
    volume = volume.copy()
    volume[20, 18, 25] = np.nan
    with pytest.raises(RespondCamError, match=r"window starting at voxel \(5, 3, 10\)"):
        explain_volume(small_cnn(), volume, "maxpool2")


def test_volume_layout_errors():
    model = small_cnn()
    with pytest.raises(RespondCamError, match="3D inputs"):
        explain_volume(model, np.zeros((4, 16, 16)).reshape(4, 16, 16, 1, 1), "maxpool2")
    with pytest.raises(RespondCamError, match="1 channel"):
        explain_volume(model, np.zeros((2, 16, 16, 16)), "maxpool2")
    with pytest.raises(RespondCamError, match="does not say what input size it takes"):
        explain_volume(gap_head(), np.zeros((8, 8, 8)), "features")
    volume = np.zeros((16, 16, 16), np.float32)
    with pytest.raises(RespondCamError, match="shares memory"):
        explain_volume(model, volume, "maxpool2", out=volume)


def mrc_memmap(path, volume):
    """``volume`` written to an MRC file and read back memory-mapped, in its own dtype."""
    if volume.dtype == np.uint8:  # mode 0 bytes, read unsigned as IMOD writes them
        return read_mrc(write_mrc(path, volume.view(np.int8))).data.view(np.uint8)
    if volume.dtype == np.float16:  # mode 12, which write_mrc widens to float32
        import mrcfile

        with mrcfile.new(path) as mrc:
            mrc.set_data(volume)
            mrc.voxel_size = 11.4
        return read_mrc(path).data
    return read_mrc(write_mrc(path, volume)).data


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.float16])
def test_integer_and_half_volumes_give_the_map_of_the_same_values_as_float32(dtype, tmp_path):
    model = small_cnn()
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    rng = np.random.default_rng(5)
    if info is None:
        volume = rng.normal(size=(16, 20, 24)).astype(dtype)
    else:
        volume = rng.integers(info.min, info.max, (16, 20, 24), endpoint=True).astype(dtype)
    mapped = mrc_memmap(tmp_path / "v.mrc", volume)
    assert isinstance(mapped, np.memmap) and mapped.dtype == dtype
    sliced = SlicedOnly(mapped)
    heatmap = explain_volume(model, sliced, "maxpool2", stride=(8, 10, 8))
    expected = explain_volume(model, volume.astype(np.float32), "maxpool2", stride=(8, 10, 8))
    np.testing.assert_array_equal(heatmap, expected)
    assert sliced.largest < volume.size  # read window row by window row, never whole


@pytest.mark.parametrize(
    ("preprocessing", "scaled"),
    [
        ("zscore-tomogram", lambda x: (x - x.mean()) / x.std()),
        (
            Preprocessing("percentile", low=5, high=95, invert=True),
            lambda x: (
                1 - np.clip((x - np.percentile(x, 5)) / np.ptp(np.percentile(x, [5, 95])), 0, 1)
            ),
        ),
    ],
)
def test_tomogram_statistics_scale_every_window_alike(volume, preprocessing, scaled):
    model = small_cnn()
    raw = volume * 300 + 1000
    heatmap = explain_volume(model, raw, "maxpool2", preprocessing=preprocessing)
    reference = explain_volume(model, scaled(raw.astype(np.float64)), "maxpool2")
    np.testing.assert_allclose(heatmap, reference, rtol=1e-4, atol=1e-6)


def test_the_demo_model_explains_a_raw_int16_tomogram_as_the_float_one(tmp_path):
    # A tomogram as reconstruction programs write it: int16, values in the thousands,
    # dark particles. The demo model's own z-score per window makes the map the same as
    # on the float volume, once its contrast inversion is said.
    from napari_respond_cam import load_model
    from napari_respond_cam.simulation import simulate_tomogram

    model = load_model("cnn1-demo")
    floats = simulate_tomogram((40, 56, 56), n_particles=2, seed=0).volume
    raw = np.round(floats * -800 + 3000).astype(np.int16)
    assert raw.min() < 0 < 1000 < raw.max()
    mapped = read_mrc(write_mrc(tmp_path / "raw.mrc", raw, voxel_size=11.4)).data
    reference = (3000 - raw.astype(np.float32)) / 800  # the floats, as stored
    options = {"target": 1, "stride": 16, "batch_size": 4}
    on_floats = explain_volume(model, reference, "maxpool2", **options)
    inverted = Preprocessing("zscore-window", invert=True)
    on_raw = explain_volume(model, mapped, "maxpool2", preprocessing=inverted, **options)
    np.testing.assert_allclose(on_raw, on_floats, rtol=1e-3, atol=1e-5 * np.abs(on_floats).max())
    # affine-invariant: only the inversion differs between raw and float contrast
    assert not np.allclose(explain_volume(model, mapped, "maxpool2", **options), on_floats)
    without = explain_volume(
        model, raw.astype(np.float32), "maxpool2", preprocessing="none", **options
    )
    assert not np.allclose(without, on_floats)


class Counted:
    """Wraps a function, counting its calls."""

    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)


def test_statistics_given_in_advance_are_used_without_reading_them_again(volume, monkeypatch):
    model, raw = small_cnn(), volume * 300 + 1000
    chosen = Preprocessing("percentile", low=5, high=95)
    computed = explain_volume(model, raw, "maxpool2", target=1, preprocessing=chosen)
    statistics = volume_statistics(raw, chosen)
    counted = Counted(volume_explainer.volume_statistics)
    monkeypatch.setattr(volume_explainer, "volume_statistics", counted)
    given = explain_volume(
        model, raw, "maxpool2", target=1, preprocessing=chosen, statistics=statistics
    )
    assert counted.calls == 0
    np.testing.assert_array_equal(given, computed)


@pytest.mark.parametrize(
    ("preprocessing", "computed_for", "message"),
    [
        (
            "percentile",
            "zscore-tomogram",
            r"hold no percentiles, but the preprocessing scales with the 1-99 % percentiles; "
            r"compute them on this volume with napari_respond_cam\.tiling\.volume_statistics",
        ),
        (
            Preprocessing("percentile", low=5, high=95),
            "percentile",
            r"hold the 1-99 % percentiles, but the preprocessing scales with the 5-95 %",
        ),
    ],
)
def test_statistics_that_do_not_fit_the_preprocessing_are_refused(
    volume, preprocessing, computed_for, message
):
    before = volume.copy()
    statistics = volume_statistics(volume, computed_for)
    with pytest.raises(RespondCamError, match=message):
        explain_volume(
            small_cnn(), volume, "maxpool2", preprocessing=preprocessing, statistics=statistics
        )
    np.testing.assert_array_equal(volume, before)


def test_statistics_of_another_channel_count_are_refused(volume):
    before = volume.copy()
    two = volume_statistics(np.stack([volume, volume]), "zscore-tomogram")
    with pytest.raises(RespondCamError, match=r"describe 2 channel\(s\) but the volume has 1; "):
        explain_volume(
            small_cnn(), volume, "maxpool2", preprocessing="zscore-tomogram", statistics=two
        )
    np.testing.assert_array_equal(volume, before)


def test_the_statistics_pass_reports_its_blocks_before_the_windows(volume):
    calls = []

    def progress(done, total):
        calls.append((done, total))

    explain_volume(small_cnn(), volume, "maxpool2", preprocessing="percentile", progress=progress)
    # one block holds the whole volume: one pass for the moments, one for the percentiles
    assert calls[:3] == [(0, 2), (1, 2), (2, 2)]
    assert calls[3] == (0, 12) and calls[-1] == (12, 12)


def test_cancelling_before_the_statistics_pass_reads_nothing(volume):
    model = small_cnn()
    events = []
    model.register_forward_hook(lambda module, args, output: events.append(("forward", "")))
    out = np.zeros(volume.shape, np.float32)
    watched = WatchedVolume(volume, events)
    with pytest.raises(Cancelled):
        explain_volume(
            model, watched, "maxpool2", preprocessing="percentile", out=out, progress=stop_at_once
        )
    assert events == [] and not out.any()  # neither the statistics nor a window were read


def stop_at_once(done, total):
    return False


def test_a_batch_reuses_the_statistics_put_on_the_device_once(volume, monkeypatch):
    seen = []
    apply = Preprocessing.apply

    def recording(self, inputs, statistics=None, dtype=None):
        seen.append(statistics)
        return apply(self, inputs, statistics, dtype)

    made = []
    tensors = IntensityStatistics.tensors

    def counted(self, device, dtype):
        made.append(dtype)
        return tensors(self, device, dtype)

    monkeypatch.setattr(Preprocessing, "apply", recording)
    monkeypatch.setattr(IntensityStatistics, "tensors", counted)
    explain_volume(small_cnn(), volume, "maxpool2", preprocessing="percentile", batch_size=2)
    assert len(seen) == 6  # 12 windows, 2 a batch
    assert all(isinstance(s, StatisticsTensors) and s is seen[0] for s in seen)
    assert seen[0].low.dtype == torch.float32
    assert made == [torch.float32]


@pytest.mark.gpu
def test_on_cuda_a_batchs_preprocessing_copies_nothing_to_the_device(volume):
    chosen = Preprocessing("percentile", low=5, high=95)
    statistics = volume_statistics(volume, chosen)
    setup = RunSetup.prepare(
        small_cnn(),
        "maxpool2",
        method="respond",
        precision="fp32",
        device="cuda",
        preprocessing=chosen,
    ).with_statistics(statistics)
    assert setup.statistics.low.device.type == "cuda"
    window = torch.from_numpy(volume[None, None, :16, :16, :16])
    inputs = window.to("cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # a blocking host-to-device copy raises
    try:
        first, second = setup.model_input(inputs), setup.model_input(inputs)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    expected = chosen.apply(window, statistics)
    np.testing.assert_allclose(first.cpu(), expected, rtol=1e-6, atol=1e-7)
    assert torch.equal(first, second)
    on_cpu = explain_volume(small_cnn(), volume, "maxpool2", preprocessing=chosen)
    on_gpu = explain_volume(small_cnn(), volume, "maxpool2", preprocessing=chosen, device="cuda")
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-4, atol=1e-7)


def test_binning_explains_the_averaged_volume_and_brings_the_map_back():
    model = small_cnn()
    fine = np.random.default_rng(7).normal(size=(41, 38, 44)).astype(np.float32)
    heatmap, windows = explain_volume(
        model, fine, "maxpool2", target=1, binning=2, stride=4, return_windows=True
    )
    averaged = fine[:40].reshape(20, 2, 19, 2, 22, 2).mean(axis=(1, 3, 5))
    coarse, coarse_windows = explain_volume(
        model, averaged, "maxpool2", target=1, stride=4, return_windows=True
    )
    assert heatmap.shape == fine.shape
    np.testing.assert_allclose(heatmap[:40:2, ::2, ::2], coarse, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(heatmap[:40:2, 1::2, 1::2], heatmap[:40:2, ::2, ::2])
    np.testing.assert_array_equal(heatmap[40], heatmap[39])  # the voxel left over along z
    np.testing.assert_array_equal(windows.starts, coarse_windows.starts * 2)
    assert windows.window == (32, 32, 32)


def test_a_class_named_gives_the_maps_of_its_index_in_every_entry_point():
    model, volume = tiny_cnn1(16), noise_volume((16, 16, 24), seed=4)
    window = volume[:, :, :16]
    np.testing.assert_array_equal(
        explain(model, window, "maxpool2", target="membrane").cam,
        explain(model, window, "maxpool2", target=2).cam,
    )
    np.testing.assert_array_equal(
        explain_layers(model, window, ["conv4", "maxpool2"], target="membrane")["conv4"].cam,
        explain_layers(model, window, ["conv4", "maxpool2"], target=2)["conv4"].cam,
    )
    named = explain_volume(model, volume, "maxpool2", target="membrane", where_predicted=True)
    indexed = explain_volume(model, volume, "maxpool2", target=2, where_predicted=True)
    np.testing.assert_array_equal(named, indexed)
