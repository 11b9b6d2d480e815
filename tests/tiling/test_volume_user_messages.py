"""explain_volume keeps the user's tomogram intact and says what to change, with numbers."""

import numpy as np
import pytest
import torch

from napari_respond_cam import RespondCamError, explain_volume
from tiny_classifier import noise_volume, tiny_cnn1
from toy_models import AsksForTooMuchMemory, GapHead, TinyUNet


def gap_head() -> GapHead:
    torch.manual_seed(3)
    return GapHead(dims=3, width=3, classes=2)


def even_sized_classifier() -> torch.nn.Sequential:
    """A U-Net averaged into two class scores: it runs on even window sides only, and
    declares 16^3 as its input."""
    torch.manual_seed(3)
    model = torch.nn.Sequential(TinyUNet(), torch.nn.AdaptiveAvgPool3d(1), torch.nn.Flatten())
    model.input_shape = (1, 16, 16, 16)
    return model.eval()


def test_out_mapping_the_volumes_own_file_is_refused_and_the_file_kept(tmp_path):
    path = tmp_path / "tomogram.raw"
    noise_volume((8, 8, 8)).tofile(path)
    before = path.read_bytes()
    volume = np.memmap(path, np.float32, "r", shape=(8, 8, 8))
    out = np.memmap(path, np.float32, "r+", shape=(8, 8, 8))
    assert not np.may_share_memory(out, volume)  # two mappings: shared memory cannot tell
    message = "out is a memory map of the volume's own file.*would overwrite the tomogram"
    with pytest.raises(RespondCamError, match=message):
        explain_volume(gap_head(), volume, "features", target=0, window=8, out=out)
    # A slice of the output that overlaps a slice of the volume, through numpy.asarray too.
    with pytest.raises(RespondCamError, match=message):
        explain_volume(
            gap_head(), volume[2:6], "features", target=0, window=4, out=np.asarray(out)[1:5]
        )
    assert path.read_bytes() == before


def test_out_in_another_part_of_the_volumes_file_is_allowed(tmp_path):
    path = tmp_path / "both.raw"
    data = noise_volume((8, 8, 8))
    np.concatenate([data.ravel(), np.ones(512, np.float32)]).tofile(path)
    volume = np.memmap(path, np.float32, "r", shape=(8, 8, 8))
    out = np.memmap(path, np.float32, "r+", shape=(8, 8, 8), offset=data.nbytes)
    heatmap = explain_volume(gap_head(), volume, "features", target=0, window=8, out=out)
    assert heatmap is out
    np.testing.assert_array_equal(
        out, explain_volume(gap_head(), data, "features", target=0, window=8)
    )
    np.testing.assert_array_equal(volume, data)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 8.0}, r"not 8\.0: sizes are counted in whole voxels, write 8, not 8\.0"),
        ({"window": 8, "stride": 4.0}, r"stride must be one positive int .* write 4, not 4\.0"),
        ({"window": 8, "stride": 2.5}, r"not 2\.5 \(stride in Python, --stride on the command"),
    ],
)
def test_float_window_and_stride_are_refused_with_the_int_to_write(kwargs, message):
    volume = noise_volume((8, 8, 8))
    kept = volume.copy()
    with pytest.raises(RespondCamError, match=message):
        explain_volume(gap_head(), volume, "features", target=0, **kwargs)
    np.testing.assert_array_equal(volume, kept)


def test_a_window_other_than_a_fixed_input_models_own_names_its_size():
    volume = noise_volume((20, 20, 20))
    message = (
        r"(?s)takes inputs of \(16, 16, 16\) voxels .* batch of \(12, 12, 12\) voxels.*"
        r"fixed input size dictates.*\(window=\(16, 16, 16\) in Python, --window 16"
    )
    with pytest.raises(RespondCamError, match=message):
        explain_volume(tiny_cnn1(16), volume, "maxpool2", window=12)
    np.testing.assert_array_equal(volume, noise_volume((20, 20, 20)))


def test_a_window_a_size_free_model_refuses_gets_the_nearest_it_takes():
    volume = noise_volume((20, 20, 20))
    message = (
        r"(?s)batch of \(5, 5, 5\) voxels.*It runs on inputs of \(6, 6, 6\) voxels: samples "
        r"of that size, or for a tiled volume that window \(window=\(6, 6, 6\) in Python, "
        r"--window 6 on the command line\); or leave the window unset for its own size, "
        r"\(16, 16, 16\)\.$"
    )
    with pytest.raises(RespondCamError, match=message):
        explain_volume(even_sized_classifier(), volume, "0.enc", window=5)


def test_padding_suggests_the_smallest_window_the_model_takes_or_none():
    # Odd 3 voxels along z: the even-sided model takes 4 at the least, not the volume's 3.
    # It declares 16^3 as its input, so napari's widget offers no window to set.
    taken = (
        r"also runs on windows of \(4, 16, 16\) voxels; use that window \(window=\(4, 16, 16\) "
        r"in Python, --window 4 16 16 on the command line\) for less padding\.$"
    )
    with pytest.warns(UserWarning, match=taken):
        explain_volume(even_sized_classifier(), noise_volume((3, 16, 16)), "0.enc")
    with pytest.warns(UserWarning, match="runs on no smaller window tried") as caught:
        explain_volume(tiny_cnn1(16), noise_volume((5, 16, 16)), "maxpool2")
    assert "also runs on" not in str(caught[0].message)


def test_padding_says_its_share_of_the_window_and_what_to_do():
    # z: 5 of the window's 16 voxels are the volume's, so 1 - 5/16 = 68.75% is padding.
    volume = noise_volume((5, 16, 16))
    with pytest.warns(UserWarning, match=r"(?s)69% of each window is padding.*more than twice"):
        explain_volume(tiny_cnn1(16), volume, "maxpool2")
    # z: 12 of 16, so 25% padding, under twice the volume: no advice to change the window.
    with pytest.warns(UserWarning, match="25% of each window is padding") as caught:
        explain_volume(tiny_cnn1(16), noise_volume((12, 16, 16)), "maxpool2")
    assert "more than twice" not in str(caught[0].message)
    np.testing.assert_array_equal(volume, noise_volume((5, 16, 16)))


def test_the_fitting_window_a_padding_warning_suggests_is_the_volumes_size():
    volume = noise_volume((3, 8, 8))
    message = r"window=\(3, 8, 8\) in Python, --window 3 8 8 on the command line"
    with pytest.warns(UserWarning, match=message):
        explain_volume(gap_head(), volume, "features", target=0, window=8)


def test_a_cpu_allocation_failure_halves_the_batch_like_a_gpu_one():
    model = AsksForTooMuchMemory(tiny_cnn1(16), limit=2)
    volume = noise_volume((16, 16, 40))  # 4 windows along x
    expected = explain_volume(model.model, volume, "maxpool2")
    with pytest.warns(RuntimeWarning, match="4 windows per batch; continuing with 2"):
        heatmap = explain_volume(model, volume, "model.maxpool2", batch_size=4)
    assert model.batches[-3:] == [4, 2, 2]
    np.testing.assert_allclose(heatmap, expected, rtol=1e-5, atol=1e-12)


def test_out_of_memory_on_one_window_names_the_window_and_what_to_lower():
    model = AsksForTooMuchMemory(tiny_cnn1(16), limit=0)
    volume = noise_volume((16, 16, 16))
    message = (
        r"ran out of memory explaining a batch of 1 window\(s\) of \(16, 16, 16\) voxels, which "
        r"cannot be made smaller\. Use a smaller window \(now \(16, 16, 16\); window in Python, "
        r"--window on the command line.*device='cpu' in Python, --device cpu"
    )
    with pytest.raises(RespondCamError, match=message):
        explain_volume(model, volume, "model.maxpool2", batch_size=1)
    np.testing.assert_array_equal(volume, noise_volume((16, 16, 16)))


def test_the_sizes_a_model_was_tried_on_are_tried_once_per_model():
    model, volume = tiny_cnn1(16), noise_volume((5, 16, 16))
    sizes = []
    model.conv1.register_forward_hook(lambda _m, inputs, _o: sizes.append(inputs[0].shape[2:]))
    with pytest.warns(UserWarning, match="runs on no smaller window tried"):
        explain_volume(model, volume, "maxpool2")
    tried = [s for s in sizes if tuple(s) != (16, 16, 16)]
    assert sorted(map(tuple, tried)) == [(5, 16, 16), (6, 16, 16), (8, 16, 16)]
    sizes.clear()
    with pytest.warns(UserWarning, match="runs on no smaller window tried"):
        explain_volume(model, volume, "maxpool2")
    assert all(tuple(s) == (16, 16, 16) for s in sizes)
