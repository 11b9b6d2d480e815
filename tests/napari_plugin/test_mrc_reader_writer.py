"""The MRC reader and writer through napari's and npe2's own machinery."""

from pathlib import Path

import dask.array as da
import npe2
import numpy as np
import pytest
from napari.layers import Labels
from napari.utils.notifications import notification_manager

import napari_respond_cam
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.napari_plugin.heatmap_layer import METADATA_KEY, is_heatmap_layer
from napari_respond_cam.napari_plugin.mrc_reader_writer import (
    get_reader,
    read_mrc_layers,
    write_image,
    write_labels,
)

pytestmark = pytest.mark.gui

PLUGIN = "napari-respond-cam"
EMD_3197 = Path(__file__).parents[1] / "data" / "EMD-3197.map"


@pytest.fixture
def new_notifications():
    """Messages napari shows from here on."""
    start = len(notification_manager.records)
    return lambda: [str(n.message) for n in notification_manager.records[start:]]


@pytest.fixture
def corrupt_map(tmp_path):
    path = tmp_path / "corrupt.map"
    path.write_bytes(EMD_3197.read_bytes()[:20000])
    return path


def test_get_reader_takes_mrc_names_only(tmp_path):
    assert get_reader(str(EMD_3197)) is read_mrc_layers
    assert get_reader("tomogram.rec.gz") is read_mrc_layers
    assert get_reader(["a.mrc", "b.mrcs.bz2"]) is read_mrc_layers
    assert get_reader("image.tif") is None
    assert get_reader(["a.mrc", "b.tif"]) is None
    folder = tmp_path / "looks_like.mrc"
    folder.mkdir()
    assert get_reader(str(folder)) is None


def test_npe2_reads_emd_3197_with_geometry(npe2pm):
    npe2pm.register(npe2.PluginManifest.from_distribution(PLUGIN))

    [(data, meta, layer_type)] = npe2.read([str(EMD_3197)], stack=False, plugin_name=PLUGIN)

    assert layer_type == "image"
    assert isinstance(data, np.memmap)
    assert data.shape == (20, 20, 20)
    assert meta["name"] == "EMD-3197"
    assert meta["scale"] == pytest.approx((11.4, 11.4, 11.4))
    assert meta["translate"] == pytest.approx((0.0, 0.0, -22.8))
    assert meta["units"] == ("angstrom", "angstrom", "angstrom")
    assert meta["metadata"]["source_path"] == str(EMD_3197.resolve())
    assert meta["metadata"]["mrc_header"]["nxstart"] == -2
    assert meta["metadata"]["mrc_header"]["labels"] == ["::::EMDATABANK.org::::EMD-3197::::"]


def test_viewer_opens_emd_3197_in_angstrom(make_napari_viewer):
    viewer = make_napari_viewer()

    [layer] = viewer.open(EMD_3197, plugin=PLUGIN)

    assert layer.name == "EMD-3197"
    assert isinstance(layer.data, np.memmap)
    np.testing.assert_allclose(layer.scale, [11.4, 11.4, 11.4])
    np.testing.assert_allclose(layer.translate, [0.0, 0.0, -22.8])
    assert [str(unit) for unit in layer.units] == ["angstrom"] * 3
    assert layer.metadata["mrc_header"]["cella"] == [228.0, 228.0, 228.0]
    # world extent in Å: 20 voxels of 11.4 Å starting at x = -22.8 Å
    np.testing.assert_allclose(layer.extent.world[:, 2], [-22.8, -22.8 + 19 * 11.4])


def test_viewer_picks_our_reader_by_extension(make_napari_viewer):
    viewer = make_napari_viewer()

    # plugin=None is what drag-and-drop and File > Open use: napari picks the
    # reader from the file name.
    [layer] = viewer.open(str(EMD_3197), plugin=None)

    np.testing.assert_allclose(layer.scale, [11.4, 11.4, 11.4])


def test_stack_of_paths_gives_one_layer_per_file(make_napari_viewer, tmp_path):
    # napari stacks only paths with the same extension
    second = write_mrc(tmp_path / "second.map", np.ones((4, 5, 6), np.float32), voxel_size=2.0)
    viewer = make_napari_viewer()

    layers = viewer.open([str(EMD_3197), str(second)], stack=True, plugin=PLUGIN)

    assert [layer.name for layer in layers] == ["EMD-3197", "second"]
    assert layers[1].data.shape == (4, 5, 6)
    np.testing.assert_allclose(layers[1].scale, [2.0, 2.0, 2.0])


def test_corrupt_file_gives_no_layer_and_a_clear_notification(
    make_napari_viewer, corrupt_map, new_notifications
):
    viewer = make_napari_viewer()

    added = viewer.open(corrupt_map, plugin=None)

    assert added == []
    assert len(viewer.layers) == 0
    [message] = new_notifications()
    assert "Cannot read 'corrupt.map' as an MRC file" in message
    assert "probably truncated" in message


def test_good_files_still_open_beside_a_corrupt_one(corrupt_map, new_notifications):
    layers = read_mrc_layers([str(EMD_3197), str(corrupt_map)])

    assert [meta["name"] for _, meta, _ in layers] == ["EMD-3197"]
    assert len(new_notifications()) == 1
    assert read_mrc_layers(str(corrupt_map)) == [(None,)]


def test_save_layer_keeps_voxel_size_and_origin(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    data = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    viewer.add_image(data, scale=(3.0, 2.0, 1.5), translate=(10.0, -20.0, 30.5))

    written = viewer.layers.save(str(tmp_path / "saved.mrc"), plugin=PLUGIN)

    assert written == [str(tmp_path / "saved.mrc")]
    volume = read_mrc(written[0])
    np.testing.assert_array_equal(volume.data, data)
    assert volume.voxel_size == pytest.approx((3.0, 2.0, 1.5))
    assert volume.origin == pytest.approx((10.0, -20.0, 30.5))


def test_read_save_read_round_trip_of_emd_3197(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    [layer] = viewer.open(EMD_3197, plugin=PLUGIN)

    [written] = viewer.layers.save(str(tmp_path / "copy.map"), plugin=PLUGIN)
    [copy] = viewer.open(written, plugin=PLUGIN)

    np.testing.assert_array_equal(copy.data, layer.data)
    np.testing.assert_allclose(copy.scale, [11.4, 11.4, 11.4])
    np.testing.assert_allclose(copy.translate, [0.0, 0.0, -22.8])


def test_saving_onto_the_open_source_file_keeps_the_layer_intact(make_napari_viewer, tmp_path):
    source = write_mrc(tmp_path / "tomo.mrc", np.full((3, 3, 3), 1.0, np.float32), voxel_size=5)
    viewer = make_napari_viewer()
    [layer] = viewer.open(source, plugin=PLUGIN)
    layer.scale = (6.0, 6.0, 6.0)

    viewer.layers.save(str(source), plugin=PLUGIN)

    assert float(layer.data.sum()) == 27.0
    assert read_mrc(source).voxel_size == pytest.approx((6.0, 6.0, 6.0))


def test_writer_converts_length_units_to_angstrom(tmp_path):
    meta = {"scale": (1.0, 0.5, 0.25), "translate": (2.0, 0.0, -1.0), "units": ("nm",) * 3}

    [written] = write_image(str(tmp_path / "nm.mrc"), np.zeros((2, 2, 2), np.float32), meta)

    volume = read_mrc(written)
    assert volume.voxel_size == pytest.approx((10.0, 5.0, 2.5))
    assert volume.origin == pytest.approx((20.0, 0.0, -10.0))


def test_a_layer_read_without_voxel_size_is_written_without_one(tmp_path):
    source = write_mrc(tmp_path / "unsized.mrc", np.ones((2, 3, 4), np.float32), voxel_size=None)
    with pytest.warns(UserWarning, match="no voxel size"):
        [(data, meta, _)] = read_mrc_layers(str(source))
    [written] = write_image(str(tmp_path / "again.mrc"), data, meta)
    with pytest.warns(UserWarning, match="no voxel size"):
        assert not read_mrc(written).voxel_size_known
    # a scale set by hand on a layer in pixels is the user's voxel size: kept
    meta = {**meta, "scale": (11.4, 11.4, 11.4)}
    [written] = write_image(str(tmp_path / "scaled.mrc"), data, meta)
    assert read_mrc(written).voxel_size == pytest.approx((11.4, 11.4, 11.4))


def test_writer_streams_a_dask_layer(tmp_path):
    data = da.arange(6 * 7 * 8, dtype=np.float32, chunks=50).reshape(6, 7, 8)
    meta = {"scale": (2.0, 2.0, 2.0), "translate": (0.0, 0.0, 0.0), "units": ("pixel",) * 3}

    [written] = write_image(str(tmp_path / "lazy.mrc"), data, meta)

    volume = read_mrc(written)
    np.testing.assert_array_equal(volume.data, data.compute())
    # pixels have no length to convert, so the numbers are kept as Å
    assert volume.voxel_size == pytest.approx((2.0, 2.0, 2.0))


def test_writer_takes_the_full_resolution_of_a_multiscale_layer(tmp_path):
    levels = [np.ones((4, 4, 4), np.float32), np.ones((2, 2, 2), np.float32)]

    meta = {"multiscale": True, "scale": (11.4,) * 3, "units": ("angstrom",) * 3}
    [written] = write_image(str(tmp_path / "ms.mrc"), levels, meta)

    assert read_mrc(written).data.shape == (4, 4, 4)


def test_writer_refuses_rgb_with_a_notification(tmp_path, new_notifications):
    rgb = np.zeros((4, 4, 3), np.uint8)

    written = write_image(str(tmp_path / "rgb.mrc"), rgb, {"rgb": True, "name": "photo"})

    assert written == []
    assert not (tmp_path / "rgb.mrc").exists()
    [message] = new_notifications()
    assert "Cannot save 'photo' as MRC" in message


def test_the_layer_records_whether_the_file_is_an_image_stack(tmp_path):
    volume = write_mrc(tmp_path / "tomo.mrc", np.zeros((3, 4, 5), np.float32))
    stack = write_mrc(tmp_path / "particles.mrcs", np.zeros((3, 4, 5), np.float32))
    [(_, volume_meta, _)] = read_mrc_layers(str(volume))
    [(_, stack_meta, _)] = read_mrc_layers(str(stack))
    assert volume_meta["metadata"]["is_image_stack"] is False
    assert stack_meta["metadata"]["is_image_stack"] is True


def test_a_heatmap_saved_and_opened_again_is_a_heatmap_not_a_volume(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    made = {"model": "cnn2-demo", "layer": "maxpool2", "target": "ribosome_70s",
            "method": "Respond-CAM", "precision": "fp32", "binning": 2,
            "preprocessing": {"kind": "zscore-window"}, "volume": "tomo"}  # fmt: skip
    data = np.linspace(-1, 3, 4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    viewer.add_image(data, name="map", scale=(11.4,) * 3, metadata={METADATA_KEY: made})
    [written] = viewer.layers.save(str(tmp_path / "map.mrc"), plugin=PLUGIN)
    labels = read_mrc(written).header["labels"]
    assert [label.strip() for label in labels[1:]] == [
        f"napari-respond-cam {napari_respond_cam.__version__}",
        "model: cnn2-demo",
        "layer: maxpool2",
        "target: ribosome_70s",
        "method: Respond-CAM",
        "precision: fp32",
        "preprocessing: z-score per window",
        "binning: 2",
    ]

    [layer] = viewer.open(written, plugin=PLUGIN)
    assert is_heatmap_layer(layer) and layer.colormap.name == "hot"
    assert layer.metadata[METADATA_KEY] == {
        "model": "cnn2-demo", "layer": "maxpool2", "target": "ribosome_70s",
        "method": "Respond-CAM", "precision": "fp32",
        "preprocessing": "z-score per window", "binning": "2",
    }  # fmt: skip
    assert layer.contrast_limits[0] == 0.0
    np.testing.assert_array_equal(layer.data, data)
    # Saved again from what the header said: the same record.
    [again] = viewer.layers.save(str(tmp_path / "again.mrc"), selected=[layer], plugin=PLUGIN)
    assert read_mrc(again).header["labels"][1:] == labels[1:]


def test_a_plain_volume_opens_without_heatmap_metadata(tmp_path):
    path = write_mrc(tmp_path / "tomo.mrc", np.ones((4, 5, 6), np.float32), labels=["acquired"])
    [(_, meta, _)] = read_mrc_layers(str(path))
    assert METADATA_KEY not in meta["metadata"] and "colormap" not in meta


@pytest.mark.parametrize(
    ("largest", "stored"),
    [(100, np.int8), (300, np.int16), (60_000, np.uint16), (70_000, np.float32)],
)
def test_a_labels_layer_is_saved_in_the_smallest_mode_that_holds_it(
    make_napari_viewer, tmp_path, largest, stored
):
    viewer = make_napari_viewer()
    labels = np.zeros((4, 5, 6), np.int32)
    labels[1, 2, 3], labels[3, 4, 5] = 1, largest
    viewer.add_labels(labels, name="truth", scale=(11.4,) * 3, translate=(0.0, 11.4, 0.0))
    [written] = viewer.layers.save(str(tmp_path / "truth.mrc"), plugin=PLUGIN)
    volume = read_mrc(written)
    assert volume.data.dtype == stored
    np.testing.assert_array_equal(volume.data, labels)
    assert volume.voxel_size == pytest.approx((11.4,) * 3)
    assert volume.origin == pytest.approx((0.0, 11.4, 0.0))

    [again] = viewer.open(written, plugin=PLUGIN)  # opens as the Labels layer it was
    assert isinstance(again, Labels) and again.data.dtype.kind in "iu"
    np.testing.assert_array_equal(again.data, labels)
    assert tuple(again.scale) == pytest.approx((11.4,) * 3)
    assert tuple(again.translate) == pytest.approx((0.0, 11.4, 0.0))


def test_labels_past_what_mrc_holds_exactly_are_refused(tmp_path, new_notifications):
    labels = np.zeros((2, 3, 4), np.int64)
    labels[0, 0, 0] = 2**25
    assert write_labels(str(tmp_path / "big.mrc"), labels, {"name": "cells"}) == []
    assert not (tmp_path / "big.mrc").exists()
    assert (
        "Cannot save 'cells' as MRC: its labels run from 0 to 33554432" in new_notifications()[-1]
    )


def test_an_empty_labels_layer_is_refused_in_words(tmp_path, new_notifications):
    assert (
        write_labels(str(tmp_path / "none.mrc"), np.zeros((0, 3, 4), np.int32), {"name": "x"}) == []
    )
    assert new_notifications()[-1] == "Cannot save 'x' as MRC: the layer holds no voxel."
