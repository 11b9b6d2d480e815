"""Volume sources: accepted layouts, their errors, block reads, and the finite-value check."""

import numpy as np
import pytest
import torch

from napari_respond_cam import RespondCamError
from napari_respond_cam.tiling.volume_source import (
    VolumeSource,
    require_finite,
    shares_file_bytes,
)

REGION = (slice(1, 3), slice(0, 2), slice(2, 5))


class Recorder:
    """An array-like that records every index it is read with."""

    def __init__(self, array):
        self._array = array
        self.shape = array.shape
        self.keys = []

    def __getitem__(self, key):
        self.keys.append(key)
        return self._array[key]


def test_a_volume_without_channels_is_read_with_one_channel():
    volume = np.arange(4 * 3 * 5, dtype=np.float32).reshape(4, 3, 5)
    source = VolumeSource(volume, ndim=3, channels=1)
    assert source.shape == (4, 3, 5) and source.channels == 1
    assert source.array is volume
    block = source.read(REGION)
    assert block.shape == (1, 2, 2, 3)
    np.testing.assert_array_equal(block[0], volume[REGION])


def test_a_channels_first_volume_is_read_with_all_its_channels():
    volume = np.arange(2 * 4 * 3 * 5, dtype=np.float32).reshape(2, 4, 3, 5)
    source = VolumeSource(volume, ndim=3, channels=2)
    assert source.shape == (4, 3, 5) and source.channels == 2
    block = source.read(REGION)
    np.testing.assert_array_equal(block, volume[(slice(None), *REGION)])


def test_channels_are_taken_from_the_volume_when_the_model_does_not_say():
    assert VolumeSource(np.zeros((3, 6, 7)), ndim=2, channels=None).channels == 3
    assert VolumeSource(np.zeros((6, 7)), ndim=2, channels=None).channels == 1
    one = VolumeSource(np.zeros((1, 6, 7)), ndim=2, channels=1)
    assert one.shape == (6, 7) and one.read((slice(0, 2), slice(0, 2))).shape == (1, 2, 2)


def test_nested_lists_are_converted():
    source = VolumeSource([[1, 2, 3], [4, 5, 6]], ndim=2, channels=1)
    assert source.shape == (2, 3)
    assert source.read((slice(0, 2), slice(1, 3))).tolist() == [[[2, 3], [5, 6]]]


def test_only_the_region_is_asked_of_the_array():
    volume = Recorder(np.arange(4 * 3 * 5, dtype=np.float32).reshape(4, 3, 5))
    block = VolumeSource(volume, ndim=3, channels=1).read(REGION)
    assert volume.keys == [REGION]
    assert isinstance(block, np.ndarray) and block.shape == (1, 2, 2, 3)
    channels = Recorder(np.zeros((2, 4, 3, 5), dtype=np.float32))
    VolumeSource(channels, ndim=3, channels=2).read(REGION)
    assert channels.keys == [(slice(None), *REGION)]


def test_a_memmap_is_read_in_place_without_loading_it(tmp_path):
    path = tmp_path / "volume.npy"
    data = np.random.default_rng(0).normal(size=(6, 5, 7)).astype(np.float32)
    np.save(path, data)
    before = path.read_bytes()
    volume = np.load(path, mmap_mode="r")
    source = VolumeSource(volume, ndim=3, channels=1)
    assert source.array is volume
    block = source.read(REGION)
    np.testing.assert_array_equal(block[0], data[REGION])
    # A view of the mapped file: no copy of the volume was made to read the block.
    assert np.shares_memory(block, volume) and block.size == 12
    assert path.read_bytes() == before


def test_tensors_are_read_as_numpy_blocks():
    volume = torch.arange(4 * 3 * 5, dtype=torch.float32).reshape(4, 3, 5).requires_grad_(True)
    block = VolumeSource(volume, ndim=3, channels=1).read(REGION)
    assert isinstance(block, np.ndarray)
    np.testing.assert_array_equal(block[0], volume.detach().numpy()[REGION])
    assert volume.grad is None


@pytest.mark.parametrize("dtype", [">f4", np.int16, np.uint8, np.uint16, ">i2"])
def test_integer_and_big_endian_volumes_read_their_values_exactly(dtype):
    values = np.arange(4 * 3 * 5).reshape(4, 3, 5) % 200
    volume = values.astype(dtype)
    block = VolumeSource(volume, ndim=3, channels=1).read(REGION)
    np.testing.assert_array_equal(block[0], values[REGION])


@pytest.mark.parametrize(
    ("shape", "ndim", "channels", "message"),
    [
        ((4, 4), 3, None, r"shape \(4, 4\) but the model takes 3D inputs"),
        ((2, 1, 4, 4, 4), 3, 1, r"shape \(2, 1, 4, 4, 4\) but the model takes 3D inputs"),
        ((4, 4, 4), 3, 2, r"takes 2 channel\(s\) but the volume of shape \(4, 4, 4\) has 1"),
        ((3, 4, 4, 4), 3, 1, r"takes 1 channel\(s\) but the volume of shape \(3, 4, 4, 4\) has 3"),
        ((4, 0, 4), 3, 1, r"volume of shape \(4, 0, 4\) holds no voxels"),
        ((2, 4, 4, 0), 3, 2, r"volume of shape \(2, 4, 4, 0\) holds no voxels"),
    ],
)
def test_volumes_the_model_cannot_take_are_refused(shape, ndim, channels, message):
    volume = np.ones(shape, dtype=np.float32)
    with pytest.raises(RespondCamError, match=message):
        VolumeSource(volume, ndim, channels)
    assert volume.shape == shape and (volume == 1).all()


def test_finite_windows_pass():
    windows = np.zeros((3, 2, 4, 4), dtype=np.float32)
    assert require_finite(windows, np.zeros((3, 2), dtype=np.int64)) is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_windows_name_the_first_bad_windows_start(bad):
    windows = np.zeros((4, 2, 3, 3), dtype=np.float32)
    windows[2, 1, 0, 2] = bad
    windows[3, 0, 1, 1] = bad
    starts = np.array([[0, 0], [0, 2], [5, 7], [5, 9]])
    with pytest.raises(RespondCamError, match=r"window starting at voxel \(5, 7\)\).*nan_to_num"):
        require_finite(windows, starts)
    assert np.isfinite(windows).sum() == windows.size - 2
    assert starts.tolist() == [[0, 0], [0, 2], [5, 7], [5, 9]]


@pytest.mark.parametrize(
    "volume",
    [np.full((4, 4, 4), 1j, np.complex64), torch.full((4, 4, 4), 1j, dtype=torch.complex128)],
)
def test_complex_volumes_are_refused_with_the_parts_to_choose_from(volume):
    with pytest.raises(RespondCamError, match=r"volume\.real, abs\(volume\) for the magnitude"):
        VolumeSource(volume, ndim=3, channels=1)
    assert (volume == 1j).all()


def test_memmaps_of_one_file_share_bytes_only_where_their_ranges_overlap(tmp_path):
    path = tmp_path / "two_volumes.raw"
    np.zeros(2 * 64, np.float32).tofile(path)
    first = np.memmap(path, np.float32, "r", shape=(4, 4, 4))  # bytes 0 to 256
    again = np.memmap(path, np.float32, "r+", shape=(4, 4, 4))
    second = np.memmap(path, np.float32, "r+", shape=(4, 4, 4), offset=256)  # 256 to 512
    assert shares_file_bytes(first, again) and shares_file_bytes(first[3:], again[3:])
    assert not shares_file_bytes(first[:2], again[2:])  # bytes 0-128 and 128-256
    assert not shares_file_bytes(first, second)
    assert shares_file_bytes(np.asarray(first)[1:], np.asarray(again)[3:])  # views of views
    assert not shares_file_bytes(first, np.zeros((4, 4, 4), np.float32))
    assert (np.fromfile(path, np.float32) == 0).all()


def test_a_volume_with_no_channels_holds_no_voxels():
    empty = np.zeros((0, 4, 4, 4), np.float32)
    with pytest.raises(
        RespondCamError, match=r"The volume of shape \(0, 4, 4, 4\) holds no voxels"
    ):
        VolumeSource(empty, 3, None)
