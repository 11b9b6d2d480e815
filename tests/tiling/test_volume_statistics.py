"""A tomogram's statistics read block by block equal the in-memory ones, exactly."""

import numpy as np
import pytest

from array_likes import SlicedOnly
from napari_respond_cam.engine.preprocessing import Preprocessing, statistics_of
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.tiling.progress import Cancelled
from napari_respond_cam.tiling.volume_source import VolumeSource
from napari_respond_cam.tiling.volume_statistics import volume_statistics

PERCENTILE = Preprocessing("percentile", low=2.5, high=99.5)


def streamed(volume, preprocessing=PERCENTILE, block_voxels=1000, ndim=3, progress=None):
    source = VolumeSource(volume, ndim, None)
    return volume_statistics(source, preprocessing, block_voxels, progress=progress)


def test_hand_computed_statistics_of_a_small_volume():
    volume = np.arange(27, dtype=np.int16).reshape(3, 3, 3)
    found = streamed(volume, Preprocessing("percentile", low=25, high=75), block_voxels=9)
    # mean 13; variance (27^2 - 1) / 12; ranks 6.5 and 19.5 fall between voxels
    assert found.mean == (13.0,)
    assert found.std == pytest.approx((np.sqrt((27**2 - 1) / 12),), rel=1e-14)
    assert (found.low, found.high) == ((6.5,), (19.5,))


def test_negative_values_zeros_and_ties_sort_as_numbers():
    values = np.array([-3.5, -1.0, -0.0, 0.0, 2.0, 2.0, 2.0, 7.25, -1e-30, 1e30], np.float32)
    volume = values.reshape(1, 2, 5)
    for low, high in [(0, 100), (10, 90), (35, 65), (1, 99)]:
        chosen = Preprocessing("percentile", low=low, high=high)
        found = streamed(volume, chosen, block_voxels=1)
        assert (found.low[0], found.high[0]) == tuple(
            np.percentile(values.astype(float), [low, high])
        )


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.uint16])
def test_a_memmap_read_in_blocks_gives_the_in_memory_statistics(dtype, tmp_path):
    rng = np.random.default_rng(0)
    volume = (rng.normal(size=(17, 12, 10)) * 800 + 3000).astype(dtype)
    mapped = read_mrc(write_mrc(tmp_path / "t.mrc", volume)).data
    assert isinstance(mapped, np.memmap)
    sliced = SlicedOnly(mapped)
    found = streamed(sliced, block_voxels=250)  # two planes of 120 voxels per block
    expected = statistics_of(volume[None, None], PERCENTILE)
    assert (found.low, found.high) == (expected.low, expected.high)
    np.testing.assert_allclose(found.mean, expected.mean, rtol=1e-14)
    np.testing.assert_allclose(found.std, expected.std, rtol=1e-12)
    assert sliced.largest == 240 < volume.size  # never loaded whole
    assert sliced.reads == 2 * 9  # one pass for the moments, one more for the percentiles


def test_channels_have_statistics_of_their_own_and_z_scoring_reads_once():
    rng = np.random.default_rng(1)
    volume = np.stack([rng.normal(0, 1, (6, 7, 8)), rng.normal(50, 5, (6, 7, 8))])
    sliced = SlicedOnly(volume)
    found = streamed(sliced, Preprocessing("zscore-tomogram"), block_voxels=100)
    expected = statistics_of(volume[None], Preprocessing("zscore-tomogram"))
    np.testing.assert_allclose(found.mean, expected.mean, rtol=1e-13)
    np.testing.assert_allclose(found.std, expected.std, rtol=1e-12)
    assert np.isnan(found.low).all() and np.isnan(found.high).all()
    assert sliced.reads == 6  # one plane (2 x 56 voxels) at a time, once


class Recorder:
    """A progress callback that remembers its calls and answers False from ``stop_at`` on."""

    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def __call__(self, done, total):
        self.calls.append((done, total))
        return self.stop_at is None or done < self.stop_at


def test_progress_counts_the_blocks_of_both_passes():
    volume = np.arange(5 * 4 * 3, dtype=np.float32).reshape(5, 4, 3)
    progress = Recorder()
    found = volume_statistics(volume, PERCENTILE, block_voxels=24, progress=progress)
    # blocks of two 12-voxel planes: 3 per pass, two passes for the percentiles
    assert progress.calls == [(done, 6) for done in range(7)]
    assert found == statistics_of(volume[None, None], PERCENTILE)
    assert found.percentiles == (2.5, 99.5)
    z_scoring = Recorder()
    volume_statistics(volume, "zscore-tomogram", block_voxels=24, progress=z_scoring)
    assert z_scoring.calls == [(done, 3) for done in range(4)]


def test_a_callback_answering_false_stops_the_pass_after_the_first_block():
    data = np.random.default_rng(2).normal(size=(8, 6, 5)).astype(np.float32)
    before = data.copy()
    sliced = SlicedOnly(data)
    progress = Recorder(stop_at=1)
    with pytest.raises(Cancelled) as caught:
        streamed(sliced, block_voxels=60, progress=progress)  # two planes a block: 4 a pass
    assert sliced.reads == 1
    assert progress.calls == [(0, 8), (1, 8)]
    # in blocks, not windows: no window was explained
    assert (caught.value.done, caught.value.total) == (None, None)
    assert str(caught.value) == "Cancelled."
    np.testing.assert_array_equal(data, before)
