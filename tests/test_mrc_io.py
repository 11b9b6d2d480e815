"""MRC reading and writing in the core (no napari)."""

import bz2
import gzip
import io
import shutil
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from napari_respond_cam import mrc_io
from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.mrc_io import MrcReadError, is_mrc_path, read_mrc, write_mrc

EMD_3197 = Path(__file__).parent / "data" / "EMD-3197.map"


def test_emd_3197_geometry_comes_from_its_header():
    volume = read_mrc(EMD_3197)

    assert volume.data.shape == (20, 20, 20)
    assert volume.data.dtype == np.float32
    # cella 228 Å over 20 samples on each axis.
    assert volume.voxel_size == pytest.approx((11.4, 11.4, 11.4))
    # origin field is zero, so the start indices place the box: nxstart = -2.
    assert volume.origin == pytest.approx((0.0, 0.0, -22.8))
    header = volume.header
    assert (header["nx"], header["ny"], header["nz"]) == (20, 20, 20)
    assert (header["mapc"], header["mapr"], header["maps"]) == (1, 2, 3)
    assert (header["nxstart"], header["nystart"], header["nzstart"]) == (-2, 0, 0)
    assert header["cella"] == [228.0, 228.0, 228.0]
    assert header["origin"] == [0.0, 0.0, 0.0]
    assert header["mode"] == 2
    assert header["exttyp"] == ""
    assert header["labels"] == ["::::EMDATABANK.org::::EMD-3197::::"]


def test_emd_3197_values_and_orientation():
    volume = read_mrc(EMD_3197)

    assert float(volume.data[0, 0, 0]) == pytest.approx(-1.8013091)
    # Axes 1, 2, 3: the array is the file's (section, row, column) block as is.
    assert float(volume.data[10, 5, 3]) == pytest.approx(2.6237898)
    assert float(volume.data.min()) == pytest.approx(-4.1337457)
    assert float(volume.data.max()) == pytest.approx(5.5767369)
    assert float(volume.data.mean(dtype=np.float64)) == pytest.approx(0.78361203)
    assert volume.header["dmax"] == pytest.approx(5.5767369)


def test_uncompressed_file_is_memory_mapped_read_only():
    volume = read_mrc(EMD_3197)

    assert isinstance(volume.data, np.memmap)
    assert not volume.data.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        volume.data[0, 0, 0] = 1.0


def test_mmap_false_reads_into_memory_still_read_only():
    volume = read_mrc(EMD_3197, mmap=False)

    assert not isinstance(volume.data, np.memmap)
    assert not volume.data.flags.writeable
    assert float(volume.data[10, 5, 3]) == pytest.approx(2.6237898)


@pytest.mark.parametrize(("suffix", "opener"), [(".gz", gzip.open), (".bz2", bz2.open)])
def test_compressed_file_reads_like_the_original(tmp_path, suffix, opener):
    compressed = tmp_path / f"EMD-3197.map{suffix}"
    with EMD_3197.open("rb") as source, opener(compressed, "wb") as target:
        shutil.copyfileobj(source, target)

    volume = read_mrc(compressed)

    assert not isinstance(volume.data, np.memmap)
    np.testing.assert_array_equal(volume.data, read_mrc(EMD_3197).data)
    assert volume.voxel_size == pytest.approx((11.4, 11.4, 11.4))
    assert volume.origin == pytest.approx((0.0, 0.0, -22.8))


def test_write_then_read_keeps_data_voxel_size_and_origin(tmp_path):
    data = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)

    written = write_mrc(
        tmp_path / "out.mrc", data, voxel_size=(3.0, 2.0, 1.5), origin=(10, -20, 30.5)
    )
    volume = read_mrc(written)

    assert written == tmp_path / "out.mrc"
    assert volume.data.dtype == np.float32
    np.testing.assert_array_equal(volume.data, data)
    assert volume.voxel_size == pytest.approx((3.0, 2.0, 1.5))
    assert volume.origin == pytest.approx((10.0, -20.0, 30.5))
    header = volume.header
    # Origin goes in the MRC2014 origin field (x, y, z); start indices stay zero.
    assert header["origin"] == [30.5, -20.0, 10.0]
    assert (header["nxstart"], header["nystart"], header["nzstart"]) == (0, 0, 0)
    assert header["cella"] == pytest.approx([6.0, 6.0, 6.0])
    assert (header["dmin"], header["dmax"], header["dmean"]) == (0.0, 23.0, 11.5)
    assert header["rms"] == pytest.approx(6.9221865)  # population std of 0..23
    assert mrcfile.validate(written, print_file=io.StringIO())


def test_emd_3197_survives_a_round_trip(tmp_path):
    original = read_mrc(EMD_3197)

    copy = read_mrc(
        write_mrc(tmp_path / "copy.map", original.data, original.voxel_size, original.origin)
    )

    np.testing.assert_array_equal(copy.data, original.data)
    assert copy.voxel_size == pytest.approx(original.voxel_size)
    assert copy.origin == pytest.approx(original.origin)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (np.int8, np.int8),
        (np.int16, np.int16),
        (np.uint16, np.uint16),
        (np.uint8, np.uint16),  # MRC mode 0 is signed, so uint8 widens
        (np.int32, np.float32),
        (np.float64, np.float32),
        (bool, np.float32),
    ],
)
def test_stored_dtype(tmp_path, given, stored):
    values = np.arange(100, 124).reshape(2, 3, 4)  # fits every integer type above
    data = (values % 2).astype(bool) if given is bool else values.astype(given)

    volume = read_mrc(write_mrc(tmp_path / "typed.mrc", data))

    assert volume.data.dtype == stored
    np.testing.assert_array_equal(volume.data, data)


def test_isotropic_voxel_size_and_2d_image(tmp_path):
    image = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)

    volume = read_mrc(write_mrc(tmp_path / "image.mrc", image, voxel_size=7.5))

    assert volume.data.shape == (2, 3)
    np.testing.assert_array_equal(volume.data, image)
    assert volume.voxel_size == pytest.approx((7.5, 7.5, 7.5))


def test_write_does_not_modify_or_need_a_writable_input(tmp_path):
    data = np.linspace(-1.0, 1.0, 60).reshape(3, 4, 5)
    data.flags.writeable = False
    before = data.copy()

    write_mrc(tmp_path / "out.mrc", data, voxel_size=2.0)

    np.testing.assert_array_equal(data, before)
    assert data.dtype == np.float64


def test_lazy_input_is_copied_in_slabs(tmp_path, monkeypatch):
    class LazyVolume:
        """Array-like that records which sections were asked for."""

        def __init__(self, array):
            self.array = array
            self.shape = array.shape
            self.dtype = array.dtype
            self.ndim = array.ndim
            self.requests = []

        def __getitem__(self, key):
            self.requests.append((key.start, key.stop))
            return self.array[key]

    section_bytes = 6 * 7 * 4
    monkeypatch.setattr(mrc_io, "_SLAB_BYTES", 2 * section_bytes)
    lazy = LazyVolume(np.arange(5 * 6 * 7, dtype=np.float32).reshape(5, 6, 7))

    volume = read_mrc(write_mrc(tmp_path / "lazy.mrc", lazy))

    assert lazy.requests == [(0, 2), (2, 4), (4, 6)]
    np.testing.assert_array_equal(volume.data, lazy.array)
    assert volume.header["dmean"] == pytest.approx(104.5)


def test_overwrite_is_refused_unless_asked(tmp_path):
    target = tmp_path / "out.mrc"
    write_mrc(target, np.zeros((2, 2, 2), np.float32))
    before = target.read_bytes()

    with pytest.raises(FileExistsError, match=r"already exists.*overwrite=True"):
        write_mrc(target, np.ones((2, 2, 2), np.float32))
    assert target.read_bytes() == before

    write_mrc(target, np.ones((2, 2, 2), np.float32), overwrite=True)
    assert float(read_mrc(target).data.sum()) == 8.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mrc"]


def test_overwriting_a_file_that_is_still_mapped_keeps_the_old_view(tmp_path):
    target = tmp_path / "vol.mrc"
    write_mrc(target, np.full((3, 3, 3), 1.0, np.float32))
    mapped = read_mrc(target).data

    write_mrc(target, np.full((3, 3, 3), 2.0, np.float32), overwrite=True)

    assert float(mapped.sum()) == 27.0
    assert float(read_mrc(target).data.sum()) == 54.0


def test_unwritable_data_is_refused_with_a_reason(tmp_path):
    with pytest.raises(RespondCamError, match="only real numbers"):
        write_mrc(tmp_path / "c.mrc", np.ones((2, 2, 2), np.complex64))
    with pytest.raises(RespondCamError, match="2D images, 3D volumes"):
        write_mrc(tmp_path / "v.mrc", np.ones(5, np.float32))
    with pytest.raises(RespondCamError, match="compressed MRC output"):
        write_mrc(tmp_path / "v.mrc.gz", np.ones((2, 2), np.float32))
    with pytest.raises(RespondCamError, match="voxel_size must be one positive number"):
        write_mrc(tmp_path / "v.mrc", np.ones((2, 2), np.float32), voxel_size=(1.0, 0.0, 1.0))
    with pytest.raises(RespondCamError, match="origin must be one finite number"):
        write_mrc(tmp_path / "v.mrc", np.ones((2, 2), np.float32), origin=(1.0, 2.0))
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_gives_a_clear_error(tmp_path):
    truncated = tmp_path / "truncated.mrc"
    truncated.write_bytes(EMD_3197.read_bytes()[:20000])

    with pytest.raises(MrcReadError, match=r"'truncated.mrc'.*probably truncated.*Check that"):
        read_mrc(truncated)


def test_truncated_gzip_gives_a_clear_error(tmp_path):
    truncated = tmp_path / "truncated.mrc.gz"
    truncated.write_bytes(gzip.compress(EMD_3197.read_bytes())[:5000])

    with pytest.raises(MrcReadError, match=r"Cannot read 'truncated.mrc.gz' as an MRC file"):
        read_mrc(truncated)


@pytest.mark.parametrize(
    "content", [b"this is a text file, not a map\n", np.arange(10000, dtype=np.int32).tobytes()]
)
def test_non_mrc_file_gives_a_clear_error(tmp_path, content):
    bogus = tmp_path / "bogus.mrc"
    bogus.write_bytes(content)

    with pytest.raises(MrcReadError, match=r"Cannot read 'bogus\.mrc' as an MRC file") as error:
        read_mrc(bogus)
    assert isinstance(error.value, ValueError)


def test_missing_file_and_folder_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No such file.*Check the path"):
        read_mrc(tmp_path / "missing.mrc")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        read_mrc(tmp_path)


def test_old_file_without_map_id_is_read_with_a_warning(tmp_path):
    raw = bytearray(EMD_3197.read_bytes())
    raw[208:212] = b"\0\0\0\0"
    old = tmp_path / "old.map"
    old.write_bytes(bytes(raw))

    with pytest.warns(UserWarning, match="not a valid MRC2014 file.*Map ID string not found"):
        volume = read_mrc(old)

    np.testing.assert_array_equal(volume.data, read_mrc(EMD_3197).data)


def test_permuted_axes_are_transposed_to_zyx(tmp_path):
    # Stored block is [section, row, column] with columns along z, rows along y
    # and sections along x: stored[s, r, c] is the voxel at x=s, y=r, z=c.
    stored = np.arange(4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2)
    path = tmp_path / "permuted.mrc"
    with mrcfile.new(path, data=stored) as mrc:
        mrc.header.mapc, mrc.header.mapr, mrc.header.maps = 3, 2, 1
        mrc.header.mx, mrc.header.my, mrc.header.mz = 4, 3, 2
        mrc.header.cella = (4 * 1.0, 3 * 2.0, 2 * 5.0)  # x, y, z voxel sizes 1, 2, 5 Å
        # start indices count columns (z), rows (y), sections (x)
        mrc.header.nxstart, mrc.header.nystart, mrc.header.nzstart = 10, 20, 30

    volume = read_mrc(path)

    assert volume.data.shape == (2, 3, 4)
    np.testing.assert_array_equal(volume.data, stored.transpose(2, 1, 0))
    assert float(volume.data[1, 2, 3]) == float(stored[3, 2, 1])
    assert volume.voxel_size == pytest.approx((5.0, 2.0, 1.0))
    assert volume.origin == pytest.approx((10 * 5.0, 20 * 2.0, 30 * 1.0))


def test_origin_field_wins_over_start_indices(tmp_path):
    path = tmp_path / "both.mrc"
    with mrcfile.new(path, data=np.zeros((2, 2, 2), np.float32)) as mrc:
        mrc.voxel_size = 4.0
        mrc.header.nxstart = 5
        mrc.header.origin = (100.0, 200.0, 300.0)

    assert read_mrc(path).origin == pytest.approx((300.0, 200.0, 100.0))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_an_origin_that_is_not_a_position_falls_back_to_the_start_indices(tmp_path, bad):
    path = tmp_path / "bad_origin.mrc"
    with mrcfile.new(path, data=np.zeros((2, 2, 2), np.float32)) as mrc:
        mrc.voxel_size = 4.0
        mrc.header.nystart = 3
        mrc.header.origin = (bad, 10.0, 20.0)

    with pytest.warns(UserWarning, match="'bad_origin.mrc' has an origin of .* not a position"):
        volume = read_mrc(path)
    assert volume.origin == pytest.approx((0.0, 12.0, 0.0))


def test_missing_voxel_size_falls_back_to_one_per_voxel_with_a_warning(tmp_path):
    path = tmp_path / "no_size.mrc"
    with mrcfile.new(path, data=np.zeros((2, 2, 2), np.float32)) as mrc:
        mrc.header.cella = (0.0, 0.0, 0.0)

    with pytest.warns(UserWarning, match="no voxel size along x, y, z"):
        volume = read_mrc(path)

    assert volume.voxel_size == (1.0, 1.0, 1.0) and not volume.voxel_size_known
    assert read_mrc(EMD_3197).voxel_size_known


def test_writing_without_a_voxel_size_leaves_the_header_unset(tmp_path):
    path = write_mrc(tmp_path / "unset.mrc", np.ones((2, 3, 4), np.float32), voxel_size=None)
    with mrcfile.open(path) as mrc:
        assert tuple(mrc.header.cella.item()) == (0.0, 0.0, 0.0)
    with pytest.warns(UserWarning, match="maps made from it have none either"):
        assert not read_mrc(path).voxel_size_known


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tomo.rec", True),
        ("TOMO.MRC", True),
        ("stack.mrcs.bz2", True),
        ("aligned.ali.gz", True),
        ("tilt.st", True),
        ("image.tif", False),
        ("archive.gz", False),
        ("map.mrc.zip", False),
    ],
)
def test_is_mrc_path(name, expected):
    assert is_mrc_path(name) is expected


@pytest.mark.parametrize(
    ("path", "stem"),
    [
        ("/data/tomo.mrc", "tomo"),
        ("tomo.rec.gz", "tomo"),
        ("TS_01.MRC.BZ2", "TS_01"),
        ("run.2.map", "run.2"),
        ("notes.txt", "notes.txt"),
        (".mrc", ".mrc"),
    ],
)
def test_mrc_stem_drops_the_mrc_and_compression_suffixes(path, stem):
    assert mrc_io.mrc_stem(path) == stem


def test_image_stacks_are_told_apart_from_volumes(tmp_path):
    data = np.arange(4 * 6 * 6, dtype=np.float32).reshape(4, 6, 6)
    volume = write_mrc(tmp_path / "tomo.mrc", data, (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))
    marked = tmp_path / "images.mrc"
    with mrcfile.new(marked) as handle:
        handle.set_data(data)
        handle.set_image_stack()
        handle.voxel_size = 2.0
    plain = write_mrc(tmp_path / "particles.MRCS", data, (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))
    named = tmp_path / "particles.MRCS.gz"
    named.write_bytes(gzip.compress(plain.read_bytes()))
    assert not read_mrc(volume).is_image_stack
    assert read_mrc(marked).is_image_stack
    assert read_mrc(named).is_image_stack
    assert not read_mrc(EMD_3197).is_image_stack


def test_labels_are_written_after_the_date_and_read_back(tmp_path):
    labels = ["napari-respond-cam 0.1.0", "layer: maxpool2", "x" * 80, *"abcdef"]
    path = write_mrc(tmp_path / "labelled.mrc", np.ones((2, 3, 4), np.float32), labels=labels)
    with mrcfile.open(path) as mrc:
        assert int(mrc.header.nlabl) == 10
        stored = [bytes(label).decode("ascii").rstrip() for label in mrc.header.label]
    assert stored[0].startswith("Created by mrcfile.py")
    assert stored[1:] == labels
    assert read_mrc(path).header["labels"][1:] == labels


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["ångström"], r"The label 'ångström' does not fit .* 80 printable ASCII"),
        (["y" * 81], r"does not fit an MRC header, which takes at most 80"),
        (["tab\there"], r"printable ASCII characters per label; shorten it"),
        (["a"] * 10, r"room for 9 labels besides the date, got 10"),
        ("one string", r"labels must be a list of strings, not one string"),
    ],
)
def test_labels_that_do_not_fit_are_refused_before_writing(tmp_path, labels, message):
    data = np.ones((2, 2, 2), np.float32)
    with pytest.raises(RespondCamError, match=message):
        write_mrc(tmp_path / "v.mrc", data, labels=labels)
    assert list(tmp_path.iterdir()) == []
    assert data.sum() == 8.0


def test_complex_integer_mode_3_is_refused_with_what_it_holds(tmp_path):
    path = tmp_path / "fourier.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.ones((2, 3, 4), np.complex64))
    with mrcfile.open(path, "r+", permissive=True) as mrc:
        mrc.header.mode = 3
    before = path.read_bytes()
    with pytest.raises(MrcReadError) as error:
        read_mrc(path)
    assert str(error.value) == (
        "Cannot read 'fourier.mrc': it stores MRC mode 3 (complex numbers as pairs of 16-bit "
        "integers: a Fourier transform, not an image), which cannot be read. Open a map "
        "stored as real numbers (mode 0, 1, 2, 6 or 12), such as the real-space tomogram, or "
        "convert this one in the program that made it."
    )
    assert path.read_bytes() == before


def write_imod_bytes(path, values: np.ndarray, flags: int) -> Path:
    """A mode-0 file as IMOD writes it: its stamp, and its flag saying whether bytes are signed."""
    with mrcfile.new(path) as handle:
        handle.set_data(values.view(np.int8))
        handle.voxel_size = 10.0
        extra = bytearray(bytes(handle.header.extra2))
        extra[40:48] = np.array([1146047817, flags], dtype="<i4").tobytes()
        handle.header.extra2 = bytes(extra)
    return path


def test_imod_bytes_are_unsigned_unless_its_flag_says_signed(tmp_path):
    values = np.arange(256, dtype=np.uint8).reshape(4, 8, 8)
    unsigned = read_mrc(write_imod_bytes(tmp_path / "imod.mrc", values, flags=0))
    assert unsigned.data.dtype == np.uint8 and isinstance(unsigned.data, np.memmap)
    np.testing.assert_array_equal(unsigned.data, values)
    signed = read_mrc(write_imod_bytes(tmp_path / "signed.mrc", values, flags=1))
    np.testing.assert_array_equal(signed.data, values.view(np.int8))
    # Without IMOD's stamp, mode 0 is signed, as MRC2014 says.
    with mrcfile.new(tmp_path / "plain.mrc", data=values.view(np.int8)) as handle:
        handle.voxel_size = 10.0
    assert read_mrc(tmp_path / "plain.mrc").data.dtype == np.int8
