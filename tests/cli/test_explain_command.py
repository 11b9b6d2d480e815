"""respond-cam explain, run as a user would: MRC in, MRC heatmap out, clear errors."""

import mrcfile
import numpy as np
import pytest
import torch

import napari_respond_cam
from napari_respond_cam import explain_volume, load_model, region_target, save_model
from napari_respond_cam.cli import main
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.tiling.predict_volume import predict_volume
from toy_models import TinyUNet


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=16, channels=(4, 4, 8, 8), dense=(16, 16))
    model.class_names = ("ribosome", "proteasome", "membrane")
    return save_model(model, tmp_path / "small.pt")


@pytest.fixture
def tomogram(tmp_path):
    data = np.random.default_rng(0).normal(size=(20, 24, 30)).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, voxel_size=(10.0, 9.0, 8.0), origin=(1, 2, 3))


def explain_args(tomogram, model_file, out, *extra):
    return ["explain", str(tomogram), "--model", str(model_file), "--out", str(out), *extra]


def test_round_trip_keeps_voxel_size_and_origin(tomogram, model_file, tmp_path, capsys):
    out = tmp_path / "maps"
    extra = ["--target", "proteasome", "--stride", "6", "--every-window"]
    assert main(explain_args(tomogram, model_file, out, *extra)) == 0
    written = read_mrc(out / "tomo_respondcam.mrc")
    assert written.voxel_size == (10.0, 9.0, 8.0)
    assert written.origin == (1.0, 2.0, 3.0)
    expected = explain_volume(
        load_model(model_file), read_mrc(tomogram).data, "maxpool2", target=1, stride=6
    )
    np.testing.assert_array_equal(written.data, expected)
    assert str(out / "tomo_respondcam.mrc") in capsys.readouterr().out


def test_a_tomogram_without_voxel_size_gives_maps_without_one(model_file, tmp_path, capsys):
    data = np.random.default_rng(0).normal(size=(16, 16, 16)).astype(np.float32)
    tomogram = write_mrc(tmp_path / "unsized.mrc", data, voxel_size=None)
    out = tmp_path / "maps"
    assert main(explain_args(tomogram, model_file, out)) == 0
    assert "maps made from it have none either" in capsys.readouterr().err
    with mrcfile.open(out / "unsized_respondcam.mrc") as written:
        assert tuple(written.header.cella.item()) == (0.0, 0.0, 0.0)


def test_a_chosen_class_maps_only_the_windows_called_it_unless_asked(
    tomogram, model_file, tmp_path, capsys
):
    data = read_mrc(tomogram).data
    every = explain_volume(load_model(model_file), data, "maxpool2", target=1, stride=6)
    runs = {}
    for name, flags in [("default", []), ("every", ["--every-window"])]:
        out = tmp_path / name
        args = explain_args(tomogram, model_file, out, "--target", "proteasome", "--stride", "6")
        assert main([*args, *flags]) == 0
        runs[name] = (read_mrc(out / "tomo_respondcam.mrc"), capsys.readouterr().out)
    # This model calls all 24 windows ribosome: the proteasome map holds none of them.
    (written, printed), (every_written, every_printed) = runs["default"], runs["every"]
    assert not written.data.any() and every.any()
    np.testing.assert_array_equal(every_written.data, every)
    assert (
        "No window is called proteasome, so the map is empty; to see the evidence for "
        "proteasome in every window: where_predicted=False in Python, --every-window on the "
        "command line, untick 'only windows called the class' in napari." in printed
    )
    assert "windows: those called proteasome" in written.header["labels"]
    assert "No window" not in every_printed
    assert not any(label.startswith("windows") for label in every_written.header["labels"])


def test_precision_flag_reaches_explain_volume(tomogram, model_file, tmp_path):
    out = tmp_path / "maps"
    extra = ["--target", "1", "--stride", "6", "--precision", "bf16", "--every-window"]
    assert main(explain_args(tomogram, model_file, out, *extra)) == 0
    expected = explain_volume(load_model(model_file), read_mrc(tomogram).data, "maxpool2",
                              target=1, stride=6, precision="bf16")  # fmt: skip
    np.testing.assert_array_equal(read_mrc(out / "tomo_respondcam.mrc").data, expected)


def test_existing_outputs_are_kept_unless_asked(tomogram, model_file, tmp_path, capsys):
    out = tmp_path / "maps"
    assert main(explain_args(tomogram, model_file, out, "--method", "grad")) == 0
    target = out / "tomo_gradcam.mrc"
    before = target.stat().st_mtime_ns
    assert main(explain_args(tomogram, model_file, out, "--method", "grad")) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert target.stat().st_mtime_ns == before
    assert main(explain_args(tomogram, model_file, out, "--method", "grad", "--overwrite")) == 0


def test_an_input_is_never_overwritten(tomogram, model_file, tmp_path, capsys):
    # tomo.mrc would write tomo_respondcam.mrc, which is the second input here
    other = write_mrc(tmp_path / "tomo_respondcam.mrc", np.zeros((16, 16, 16), np.float32))
    args = ["explain", str(tomogram), str(other), "--model", str(model_file)]
    assert main([*args, "--out", str(tmp_path), "--overwrite"]) == 1
    assert "is one of the inputs" in capsys.readouterr().err
    assert not read_mrc(other).data.any()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tomogram": "missing.mrc"}, "No such file"),
        ({"tomogram": "corrupt.mrc"}, "Cannot read 'corrupt.mrc' as an MRC file"),
        ({"extra": ["--layer", "maxpool3"]}, "Did you mean 'maxpool2'"),
        ({"extra": ["--target", "dog"]}, "--target: 'dog' is not a class of this model"),
        ({"extra": ["--target", "3"]}, "--target: Class 3 is out of range: the model has 3"),
        ({"extra": ["--window", "8", "8"]}, "one size or three"),
        ({"extra": ["--device", "gpu"]}, "not a device name"),
        ({"model": "no-such-model"}, "neither a model name"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(
    change, message, tomogram, model_file, tmp_path, capsys
):
    (tmp_path / "corrupt.mrc").write_bytes(b"not a map" * 200)
    source = tmp_path / change.get("tomogram", tomogram)
    model = change.get("model", model_file)
    out = tmp_path / "maps"
    assert main(explain_args(source, model, out, *change.get("extra", []))) == 1
    err = capsys.readouterr().err
    assert err.startswith("respond-cam: error: ") and message in err
    assert not list(out.glob("*.mrc")) if out.exists() else True


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "explain" in capsys.readouterr().out


def error_of(capsys) -> str:
    """The whole of stderr, which must be the one-line error (no progress bar: no work)."""
    err = capsys.readouterr().err
    assert err.startswith("respond-cam: error: ") and err.count("\n") == 1
    return err.removeprefix("respond-cam: error: ").rstrip("\n")


@pytest.mark.parametrize("out", ["/proc/sys", "/proc/respond-cam-out", "/proc/sys/new/maps"])
def test_an_out_folder_that_cannot_be_written_fails_before_any_work(
    out, tomogram, model_file, capsys
):
    # /proc refuses new files even to root, for whom permission bits stop nothing.
    before = tomogram.read_bytes()
    assert main(explain_args(tomogram, model_file, out)) == 1
    assert error_of(capsys) == (
        f"Cannot write in the --out folder {out} (No such file or directory); name a "
        "folder you can write to."
    )
    assert tomogram.read_bytes() == before


def test_an_out_folder_that_is_a_file_fails_before_any_work(tomogram, model_file, capsys):
    out = tomogram.with_name("notes.txt")
    out.write_text("keep me")
    assert main(explain_args(tomogram, model_file, out)) == 1
    assert error_of(capsys) == (
        f"--out {out} is a file, not a folder; name a folder (it is created if it does not exist)."
    )
    assert out.read_text() == "keep me"


def run_advice(message: str, folder, monkeypatch) -> None:
    """Run the Python the message suggests, in ``folder``."""
    monkeypatch.chdir(folder)
    exec(message.split("in Python: ", 1)[1], {})


def test_an_image_stack_is_refused_saying_how_to_save_a_volume(
    model_file, tmp_path, capsys, monkeypatch
):
    data = np.arange(3 * 16 * 16, dtype=np.float32).reshape(3, 16, 16)
    stack = write_mrc(tmp_path / "images.mrcs", data, voxel_size=4.0)
    marked = tmp_path / "marked.mrc"
    with mrcfile.new(marked) as handle:
        handle.set_data(data)
        handle.set_image_stack()
        handle.voxel_size = 4.0
    for path, why in [(stack, "its .mrcs name"), (marked, "space group 0 in its header")]:
        before = path.read_bytes()
        assert main(explain_args(path, model_file, tmp_path / "maps")) == 1
        message = error_of(capsys)
        assert message.startswith(
            f"{path} is a stack of 3 2D images ({why} says so), not a tomogram; "
            "respond-cam takes one 3D volume per file. If the images are the "
            "sections of one volume, save them as a volume file and use that, e.g. in "
            f"Python: import mrcfile; s = mrcfile.open('{path}'); "
        )
        assert path.read_bytes() == before
    assert not (tmp_path / "maps").exists()
    run_advice(message, tmp_path, monkeypatch)
    volume = read_mrc(tmp_path / "marked_volume.mrc")
    assert not volume.is_image_stack
    np.testing.assert_array_equal(volume.data, data)
    assert volume.voxel_size == (4.0, 4.0, 4.0)


def test_a_volume_stack_is_refused_saying_how_to_take_one_volume(
    model_file, tmp_path, capsys, monkeypatch
):
    data = np.arange(2 * 16 * 16 * 16, dtype=np.float32).reshape(2, 16, 16, 16)
    path = write_mrc(tmp_path / "volumes.mrc", data, voxel_size=5.0)
    before = path.read_bytes()
    assert main(explain_args(path, model_file, tmp_path / "maps")) == 1
    message = error_of(capsys)
    assert message.startswith(
        f"{path} is a stack of 2 volumes; respond-cam takes one volume per file. "
        "Save the volume you want as a file of its own and use that"
    )
    assert path.read_bytes() == before
    run_advice(message, tmp_path, monkeypatch)
    volume = read_mrc(tmp_path / "volumes_0.mrc")
    np.testing.assert_array_equal(volume.data, data[0])
    assert volume.voxel_size == (5.0, 5.0, 5.0)


def test_a_complex_valued_file_is_refused_before_any_work(model_file, tmp_path, capsys):
    path = tmp_path / "fourier.mrc"
    with mrcfile.new(path) as handle:
        handle.set_data(np.ones((16, 16, 16), np.complex64))
        handle.voxel_size = 4.0
    before = path.read_bytes()
    assert main(explain_args(path, model_file, tmp_path / "maps")) == 1
    assert error_of(capsys) == (
        f"{path} holds complex numbers (MRC mode 4: a Fourier transform, not an image); "
        "respond-cam takes a real-valued tomogram. Use the real-space map "
        "instead (this one's inverse Fourier transform, from the program that made it)."
    )
    assert path.read_bytes() == before
    assert not (tmp_path / "maps").exists()


CLASSES = ("ribosome", "proteasome", "membrane")


def test_target_all_writes_one_labelled_file_per_class(tomogram, model_file, tmp_path, capsys):
    out = tmp_path / "maps"
    every = ["--target", "all", "--stride", "8", "--every-window"]
    assert main(explain_args(tomogram, model_file, out, *every)) == 0
    outputs = [out / f"tomo_respondcam_{name}.mrc" for name in CLASSES]
    printed = capsys.readouterr()
    assert printed.out.splitlines()[:3] == [str(path) for path in outputs]
    # 2 x 2 x 3 windows of 16 at stride 8 on (20, 24, 30), each explained once per class.
    assert "tomo.mrc, 3 classes: explaining [" in printed.err and "36/36 window maps" in printed.err
    assert sorted(out.iterdir()) == sorted(outputs)
    model, data = load_model(model_file), read_mrc(tomogram).data
    for k, (name, path) in enumerate(zip(CLASSES, outputs, strict=True)):
        expected = explain_volume(model, data, "maxpool2", target=k, stride=8)
        written = read_mrc(path)
        np.testing.assert_array_equal(written.data, expected)
        assert written.voxel_size == (10.0, 9.0, 8.0) and written.origin == (1.0, 2.0, 3.0)
        with mrcfile.open(path) as mrc:
            labels = [bytes(x).decode().rstrip() for x in mrc.header.label[1 : mrc.header.nlabl]]
        assert labels == [
            f"napari-respond-cam {napari_respond_cam.__version__}",
            "model: small.pt",
            "layer: maxpool2",
            f"target: {name}",
            "method: Respond-CAM",
            "precision: fp32",
            "preprocessing: none (raw voxels)",
        ]


def test_target_all_checks_every_class_output_before_any_work(
    tomogram, model_file, tmp_path, capsys
):
    out = tmp_path / "maps"
    out.mkdir()
    existing = write_mrc(out / "tomo_gradcam_membrane.mrc", np.ones((2, 2, 2), np.float32))
    before = existing.read_bytes()
    args = explain_args(tomogram, model_file, out, "--target", "all", "--method", "grad")
    assert main(args) == 1
    assert error_of(capsys) == (
        f"1 output file(s) already exist ({existing}); pass --overwrite to replace them or "
        "choose another --out folder."
    )
    assert sorted(out.iterdir()) == [existing] and existing.read_bytes() == before
    # An input named like one class's output is never written, even with --overwrite.
    both = ["explain", str(tomogram), str(existing), "--model", str(model_file), "--out", str(out)]
    assert main([*both, "--target", "all", "--method", "grad", "--overwrite"]) == 1
    assert "is one of the inputs, which is never overwritten" in error_of(capsys)
    assert sorted(out.iterdir()) == [existing] and existing.read_bytes() == before


def test_target_all_needs_classes_it_can_name(tomogram, tmp_path, capsys, monkeypatch):
    from napari_respond_cam import register_model
    from napari_respond_cam.models import registry
    from toy_models import GapHead

    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    register_model("nameless", GapHead(dims=3))
    out = tmp_path / "maps"
    args = ["explain", str(tomogram), "--model", "nameless", "--out", str(out)]
    assert main([*args, "--layer", "features", "--target", "all"]) == 1
    assert error_of(capsys) == (
        "--target all writes one file per class, but this model names no classes and "
        "declares no input shape to count them with; explain one class per run (--target "
        "INDEX), or give the model class_names (save_model keeps them)."
    )
    assert not out.exists()


def test_a_warning_is_shown_once_as_a_sentence(model_file, tmp_path, capsys):
    # 12 x 14 x 16 in the model's 16^3 window: 1 - 12 * 14 / 16^2 = 34% padding.
    data = np.random.default_rng(1).normal(size=(12, 14, 16)).astype(np.float32)
    small = write_mrc(tmp_path / "small.mrc", data, voxel_size=5.0)
    assert main(explain_args(small, model_file, tmp_path / "maps")) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    # The sentence is the tiler's; the command shows it whole, with its numbers, once.
    assert warnings[0].startswith("respond-cam: warning: The volume (12, 14, 16) ")
    assert "34%" in warnings[0]
    assert read_mrc(tmp_path / "maps" / "small_respondcam.mrc").data.shape == data.shape


def test_preprocessing_and_invert_flags_reach_the_model(tomogram, model_file, tmp_path):
    out = tmp_path / "maps"
    extra = ["--target", "1", "--stride", "6", "--preprocessing", "zscore-window", "--invert"]
    extra.append("--every-window")
    assert main(explain_args(tomogram, model_file, out, *extra)) == 0
    chosen = napari_respond_cam.Preprocessing("zscore-window", invert=True)
    expected = explain_volume(load_model(model_file), read_mrc(tomogram).data, "maxpool2",
                              target=1, stride=6, preprocessing=chosen)  # fmt: skip
    np.testing.assert_array_equal(read_mrc(out / "tomo_respondcam.mrc").data, expected)
    raw = explain_volume(load_model(model_file), read_mrc(tomogram).data, "maxpool2",
                         target=1, stride=6)  # fmt: skip
    assert not np.allclose(expected, raw)  # the flags changed what the model saw


def test_bin_explains_the_binned_tomogram_on_its_own_grid(model_file, tmp_path, capsys):
    data = np.random.default_rng(1).normal(size=(33, 40, 36)).astype(np.float32)
    tomogram = write_mrc(tmp_path / "fine.mrc", data, voxel_size=(5.0, 5.0, 5.0), origin=(0, 0, 0))
    model = load_model(model_file)
    model.voxel_size_a = 10.0
    trained_at_10 = save_model(model, tmp_path / "at10.pt")
    out = tmp_path / "maps"
    assert main(explain_args(tomogram, trained_at_10, out, "--target", "0")) == 0
    assert (
        "bin it by 2 (binning=2 in Python, --bin 2 on the command line" in capsys.readouterr().err
    )
    assert main(explain_args(tomogram, trained_at_10, out, "--target", "0", "--bin", "2",
                             "--overwrite")) == 0  # fmt: skip
    printed = capsys.readouterr()
    assert "voxels" not in printed.err  # 5 Å binned by 2 is the model's 10 Å
    assert "Binned by 2: the model saw 2×2×2 block averages of the volume, voxels of 10 Å;" in (
        printed.out
    )
    written = read_mrc(out / "fine_respondcam.mrc")
    assert written.data.shape == data.shape and written.voxel_size == (5.0, 5.0, 5.0)
    averaged = data[:32, :40, :36].reshape(16, 2, 20, 2, 18, 2).mean(axis=(1, 3, 5))
    binned_map = explain_volume(model, averaged, "maxpool2", target=0)
    np.testing.assert_allclose(written.data[:32:2, ::2, ::2], binned_map, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(written.data[:32:2, 1::2, 1::2], written.data[:32:2, ::2, ::2])


def test_a_binning_the_tomogram_cannot_take_is_refused_before_any_work(
    tomogram, model_file, tmp_path, capsys
):
    out = tmp_path / "maps"
    assert main(explain_args(tomogram, model_file, out, "--bin", "0")) == 1
    assert "--bin" in capsys.readouterr().err
    assert not list(out.glob("*.mrc")) if out.exists() else True


def test_a_tomogram_without_a_voxel_size_gets_no_voxel_size_warning(model_file, tmp_path, capsys):
    path = tmp_path / "no_size.mrc"
    with mrcfile.new(path, data=np.zeros((20, 24, 30), np.float32)) as handle:
        handle.header.cella = (0.0, 0.0, 0.0)
    model = load_model(model_file)
    model.voxel_size_a = 11.4
    trained = save_model(model, tmp_path / "at11.pt")
    assert main(explain_args(path, trained, tmp_path / "maps", "--target", "0")) == 0
    err = capsys.readouterr().err
    assert "no voxel size" in err and "bin it" not in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--window", "12"], "The model takes inputs of (16, 16, 16) voxels (its input_shape)"),
        (["--layer", "fc1"], "The layer 'fc1' gives shape (1, 16), not a spatial map"),
        (["--bin", "0"], "The binning must be a whole number from 1"),
        (["--threads", "-2"], "--threads must be at least 1, got -2."),
        (["--every-window"], "--every-window explains one class in every window, so it needs "),
        (["--tasks-per-file", "2"], "give the cluster's --scheduler ADDRESS too, or drop "),
    ],
)
def test_a_mistake_found_before_any_work_leaves_no_out_folder(
    extra, message, tomogram, model_file, tmp_path, capsys
):
    out = tmp_path / "not-yet"
    before = tomogram.read_bytes()
    assert main(explain_args(tomogram, model_file, out, *extra)) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("respond-cam: error:") == 1
    assert not out.exists()
    assert tomogram.read_bytes() == before


# A per-voxel model: channels over a region of the tomogram, from a label volume file.
CHANNELS = ("background", "membrane", "ribosome")


@pytest.fixture(scope="module")
def unet_file(tmp_path_factory):
    torch.manual_seed(0)
    model = TinyUNet(classes=3, bias=True).eval()
    model.class_names, model.input_shape, model.background_class = CHANNELS, (1, 8, 8, 8), 0
    return save_model(model, tmp_path_factory.mktemp("models") / "unet.pt2")


@pytest.fixture
def labels_file(tmp_path):
    labels = np.zeros((20, 24, 30), dtype=np.int16)
    labels[4:10, 6:14, 8:20] = 2
    labels[15:18, 2:5, 2:5] = 1
    return write_mrc(tmp_path / "labels.mrc", labels, voxel_size=(10.0, 9.0, 8.0))


def test_a_dense_model_explains_a_channel_over_a_label_of_a_mask_file(
    tomogram, unet_file, labels_file, tmp_path, capsys
):
    out = tmp_path / "maps"
    extra = ["--layer", "dec", "--channel", "ribosome", "--region-mask", str(labels_file)]
    assert main(explain_args(tomogram, unet_file, out, *extra, "--label", "2")) == 0

    written = read_mrc(out / "tomo_respondcam.mrc")
    assert written.voxel_size == (10.0, 9.0, 8.0)
    assert written.origin == (1.0, 2.0, 3.0)
    model, data = load_model(unet_file), read_mrc(tomogram).data
    mask = read_mrc(labels_file).data == 2
    expected, windows = explain_volume(
        model, data, "dec", target=region_target(2, mask), return_windows=True
    )
    np.testing.assert_allclose(written.data, expected, rtol=1e-6, atol=1e-7)
    y = float(predict_volume(model, data)[2][mask].sum(dtype=np.float64))
    assert windows.total_score == pytest.approx(y, rel=1e-5)
    printed = capsys.readouterr().out.splitlines()
    assert printed[1:4] == ["tomo.mrc:", "Channel: ribosome.", f"Region: label 2 of {labels_file}."]
    check = printed[-2]
    assert check.startswith(
        f"  ribosome, label 2 of {labels_file}: score {windows.total_score:.4g}, "
        f"CAM sum {windows.total_map_sum:.4g}, bias {windows.total_bias:.4g}, "
        "sum − (score − bias) = "
    )
    residual = float(check.rsplit("= ", 1)[1])
    assert abs(residual) <= 1e-3 * abs(y)
    assert printed[-1].startswith("Explained 1 tomogram(s) in ")


def test_a_dense_model_with_the_defaults_explains_its_own_prediction(
    tomogram, unet_file, tmp_path, capsys
):
    out = tmp_path / "maps"
    assert main(explain_args(tomogram, unet_file, out, "--layer", "dec")) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[2:4] == [
        "Channel: membrane (the first channel that is not the background (channel 0); "
        "the default).",
        "Region: where the model predicts membrane (the default).",
    ]
    with mrcfile.open(out / "tomo_respondcam.mrc") as mrc:
        labels = [label.decode().strip() for label in mrc.header.label[: mrc.header.nlabl]]
    assert "target: membrane, where the model predicts membrane" in labels


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--label", "2"], "--label 2 picks a label of a label volume; name that volume with "
                           "--region-mask FILE.mrc."),
        (["--region", "whole", "--region-mask", "{labels}"], "--region whole and --region-mask "
                                                             "both say which voxels to explain"),
        (["--region-mask", "{labels}", "--label", "7"], "tomo.mrc: The region (label 7 of "),
        (["--region-mask", "{missing}"], "Cannot read the region mask (mask_file in "
                                         "Python, --region-mask on the command line"),
        (["--region-mask", "{small}"], "tomo.mrc: The label volume has shape (20, 24, 29) but "
                                       "the volume has (20, 24, 30)"),
        (["--target", "1"], "map per voxel (3 channel(s)), not one score per class"),
        (["--channel", "5"], "Channel 5 is out of range: the model gives 3 channels (0 to 2)"),
        (["--channel", "lipid"], "--channel: 'lipid' is not an output channel of this model"),
        (["--every-window"], "--every-window is for a classifier explained window by window; "
                             "this model gives an output per voxel"),
    ],
)  # fmt: skip
def test_bad_region_choices_fail_before_any_work(
    extra, message, tomogram, unet_file, labels_file, tmp_path, capsys
):
    small = write_mrc(tmp_path / "small.mrc", np.ones((20, 24, 29), dtype=np.int16))
    names = {"labels": labels_file, "missing": tmp_path / "none.mrc", "small": small}
    extra = [e.format(**names) for e in extra]
    before = tomogram.read_bytes()
    assert main(explain_args(tomogram, unet_file, tmp_path / "maps", "--layer", "dec", *extra)) == 1
    assert message in error_of(capsys)
    assert tomogram.read_bytes() == before
    assert not (tmp_path / "maps").exists()


def test_a_region_for_a_classifier_says_to_choose_a_class(tomogram, model_file, tmp_path, capsys):
    assert main(explain_args(tomogram, model_file, tmp_path / "maps", "--region", "whole")) == 1
    assert error_of(capsys).startswith(
        "This model gives one score per class (an output shaped (N, classes)), not a map "
        "per voxel, so it has no output channels or regions to explain; choose a target "
        "class instead (target in Python, --target on the command line"
    )
    assert not (tmp_path / "maps").exists()


def test_a_bad_file_in_a_batch_is_named_with_what_was_written_and_what_was_not(
    tomogram, model_file, tmp_path, capsys
):
    data = np.random.default_rng(1).normal(size=(20, 24, 30)).astype(np.float32)
    data[3, 4, 5] = np.nan
    bad = write_mrc(tmp_path / "holes.mrc", data, voxel_size=10.0)
    later = write_mrc(tmp_path / "later.mrc", np.zeros_like(data), voxel_size=10.0)
    out = tmp_path / "maps"
    args = ["explain", str(tomogram), str(bad), str(later), "--model", str(model_file)]
    assert main([*args, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    first, written, skipped = err.split("respond-cam: error: ")[1].splitlines()
    assert first.startswith(f"{bad}: The volume holds NaN or infinite values")
    assert written == f"Written before it: {out / 'tomo_respondcam.mrc'}."
    assert skipped == f"Not explained: {later}; to finish, run the command on those files alone."
    assert (out / "tomo_respondcam.mrc").exists() and not (out / "later_respondcam.mrc").exists()


def test_an_origin_that_is_not_a_position_still_gives_a_map(model_file, tmp_path, capsys):
    path = tmp_path / "nan_origin.mrc"
    data = np.random.default_rng(2).normal(size=(20, 24, 30)).astype(np.float32)
    with mrcfile.new(path, data=data) as handle:
        handle.voxel_size = 10.0
        handle.header.origin = (np.nan, 0.0, 0.0)
    assert main(explain_args(path, model_file, tmp_path / "maps")) == 0
    assert "respond-cam: warning: 'nan_origin.mrc' has an origin of (nan, 0.0, 0.0)" in (
        capsys.readouterr().err
    )
    assert read_mrc(tmp_path / "maps" / "nan_origin_respondcam.mrc").origin == (0.0, 0.0, 0.0)
