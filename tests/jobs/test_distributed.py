"""The Dask path writes the same files as the in-process path (a real LocalCluster)."""

import dask
import dask.array
import numpy as np
import pytest
import torch

from napari_respond_cam import explain_volume, load_model, save_model
from napari_respond_cam.cli import main
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture
def inputs(tmp_path):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=16, channels=(4, 4, 8, 8), dense=(16, 16))
    model_file = save_model(model, tmp_path / "small.pt")
    rng = np.random.default_rng(0)
    tomograms = [
        write_mrc(tmp_path / f"t{i}.mrc", rng.normal(size=(24, 20, 18)).astype(np.float32), 7.5)
        for i in range(3)
    ]
    return model_file, tomograms


def run_cli(model_file, tomograms, out, *extra):
    paths = [str(t) for t in tomograms]
    args = ["explain", *paths, "--model", str(model_file), "--out", str(out), "--device", "cpu"]
    assert main([*args, *extra]) == 0
    return {p.name: read_mrc(p) for p in sorted(out.glob("*.mrc"))}


def test_cluster_files_equal_in_process_files(cluster, inputs, tmp_path):
    model_file, tomograms = inputs
    here = run_cli(model_file, tomograms, tmp_path / "here")
    on_cluster = ["--scheduler", cluster.scheduler_address]
    there = run_cli(model_file, tomograms, tmp_path / "there", *on_cluster)
    assert sorted(there) == sorted(here) == [f"t{i}_respondcam.mrc" for i in range(3)]
    for name, volume in here.items():
        np.testing.assert_array_equal(there[name].data, volume.data)
        assert there[name].voxel_size == volume.voxel_size == (7.5, 7.5, 7.5)


def test_one_file_split_into_tasks_equals_in_process(cluster, inputs, tmp_path):
    model_file, tomograms = inputs
    here = run_cli(model_file, tomograms[:1], tmp_path / "here")
    split = ["--scheduler", cluster.scheduler_address, "--tasks-per-file", "2"]
    there = run_cli(model_file, tomograms[:1], tmp_path / "there", *split)
    np.testing.assert_allclose(
        there["t0_respondcam.mrc"].data, here["t0_respondcam.mrc"].data, rtol=1e-6, atol=1e-12
    )


def split_model_file(tomogram, path):
    """The fixture's model, its class 1 lifted so that the tomogram's windows split
    between classes 0 and 1, with class 0 its background class."""
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=16, channels=(4, 4, 8, 8), dense=(16, 16)).eval()
    windows = explain_volume(model, read_mrc(tomogram).data, "maxpool2", return_windows=True)[1]
    logits = np.log(windows.probabilities)
    with torch.no_grad():
        model.fc3.bias[1] += float(np.median(logits[:, 0] - logits[:, 1]))
    model.background_class = 0
    return save_model(model, path)


@pytest.mark.parametrize(
    ("flags", "target", "windows"),
    [([], None, "all but those called class 0"), (["--target", "1"], 1, "those called class 1")],
)
def test_split_tasks_leave_out_the_windows_the_run_layer_leaves_out(
    cluster, inputs, tmp_path, flags, target, windows
):
    _, tomograms = inputs
    model_file = split_model_file(tomograms[0], tmp_path / "split.pt")
    here = run_cli(model_file, tomograms[:1], tmp_path / "here", *flags)
    split = ["--scheduler", cluster.scheduler_address, "--tasks-per-file", "2"]
    there = run_cli(model_file, tomograms[:1], tmp_path / "there", *flags, *split)
    expected, found = here["t0_respondcam.mrc"], there["t0_respondcam.mrc"]
    scale = float(np.abs(expected.data).max())
    np.testing.assert_allclose(found.data, expected.data, rtol=0, atol=1e-6 * scale)
    # The windows called class 0 are left out: of a map made of every window's, a part.
    data = read_mrc(tomograms[0]).data
    every = explain_volume(load_model(model_file), data, "maxpool2", target=target)
    left_out = expected.data == 0
    assert left_out.any() and not left_out.all() and every[left_out].any()
    assert found.header["labels"][1:] == expected.header["labels"][1:]
    assert f"windows: {windows}" in expected.header["labels"]


def test_unreachable_scheduler_is_a_clear_error(inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("napari_respond_cam.jobs.distributed.CONNECT_TIMEOUT", "1s")
    model_file, tomograms = inputs
    args = ["explain", str(tomograms[0]), "--model", str(model_file), "--out", str(tmp_path)]
    before = tomograms[0].read_bytes()
    assert main([*args, "--scheduler", "tcp://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("respond-cam: error: Could not reach a Dask scheduler at ")
    assert "(--scheduler tcp://host:8786 on the command line, scheduler= in Python)" in err
    assert tomograms[0].read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.pt", "t0.mrc", "t1.mrc", "t2.mrc"]


def test_a_file_of_the_models_input_size_is_one_pass_on_the_cluster_too(cluster, inputs, tmp_path):
    model_file, _ = inputs
    data = np.random.default_rng(2).normal(size=(16, 16, 16)).astype(np.float32)
    tomogram = write_mrc(tmp_path / "one.mrc", data, 7.5)
    # The model calls this window class 0: tiled, class 1's map would hold no window.
    flags = ["--target", "1", "--scheduler", cluster.scheduler_address, "--tasks-per-file", "2"]
    there = run_cli(model_file, [tomogram], tmp_path / "there", *flags)["one_respondcam.mrc"]
    here = run_cli(model_file, [tomogram], tmp_path / "here", "--target", "1")
    expected = here["one_respondcam.mrc"]
    assert expected.data.any()
    np.testing.assert_array_equal(there.data, expected.data)
    assert there.header["labels"][1:] == expected.header["labels"][1:]


@pytest.mark.parametrize("tasks", ["1", "2"])
def test_all_classes_on_the_cluster_equal_in_process(cluster, inputs, tmp_path, tasks):
    _, tomograms = inputs
    model_file = split_model_file(tomograms[0], tmp_path / "split.pt")
    every = ["--target", "all"]
    here = run_cli(model_file, tomograms[:1], tmp_path / "here", *every)
    on_cluster = ["--scheduler", cluster.scheduler_address, "--tasks-per-file", tasks]
    there = run_cli(model_file, tomograms[:1], tmp_path / "there", *every, *on_cluster)
    assert sorted(there) == sorted(here) == [f"t0_respondcam_class_{k}.mrc" for k in range(3)]
    for name, volume in here.items():
        # Slabs add up in another order than one pass does: equal to float32 rounding.
        scale = float(np.abs(volume.data).max())
        np.testing.assert_allclose(there[name].data, volume.data, rtol=0, atol=1e-6 * scale)
        assert there[name].header["labels"][1:] == volume.header["labels"][1:]
        assert there[name].header["labels"][4] == f"target: class {name[-5]}"
    # The windows split between classes 0 and 1: both maps hold some.
    assert here["t0_respondcam_class_0.mrc"].data.any()
    assert here["t0_respondcam_class_1.mrc"].data.any()


def test_a_binned_split_file_with_tomogram_statistics_equals_in_process(cluster, inputs, tmp_path):
    model_file, _ = inputs
    raw = np.random.default_rng(1).normal(3000, 800, size=(40, 36, 34)).astype(np.float32)
    tomogram = write_mrc(tmp_path / "big.mrc", raw, 5.7)
    before = tomogram.read_bytes()
    chosen = ["--bin", "2", "--preprocessing", "percentile", "--target", "1", "--every-window"]
    here = run_cli(model_file, [tomogram], tmp_path / "here", *chosen)
    split = ["--scheduler", cluster.scheduler_address, "--tasks-per-file", "2"]
    there = run_cli(model_file, [tomogram], tmp_path / "there", *chosen, *split)
    expected, found = here["big_respondcam.mrc"], there["big_respondcam.mrc"]
    assert found.data.shape == expected.data.shape == (40, 36, 34)
    scale = float(np.abs(expected.data).max())
    assert scale > 0
    np.testing.assert_allclose(found.data, expected.data, rtol=0, atol=1e-6 * scale)
    np.testing.assert_array_equal(found.data[0::2], found.data[1::2])  # binned cubes
    assert found.voxel_size == pytest.approx((5.7, 5.7, 5.7))
    assert tomogram.read_bytes() == before


def test_a_tile_task_takes_the_clients_statistics_and_reads_none(inputs, tmp_path, monkeypatch):
    from napari_respond_cam.jobs import distributed as jobs
    from napari_respond_cam.runs.request import ExplainSettings
    from napari_respond_cam.tiling import volume_explainer
    from napari_respond_cam.tiling.volume_statistics import volume_statistics

    model_file, tomograms = inputs
    settings = ExplainSettings(layer="maxpool2", target=0, device="cpu", preprocessing="percentile")
    job = jobs.FileJob(tomograms[0], (tmp_path / "unused.mrc",))
    source = jobs.ModelSource(str(model_file))
    volume = read_mrc(tomograms[0]).data
    whole = explain_volume(
        source.load("cpu"), volume, "maxpool2", target=0, preprocessing="percentile"
    )
    statistics = volume_statistics(volume, "percentile")
    read = []
    monkeypatch.setattr(volume_explainer, "volume_statistics", lambda *a, **k: read.append(a))
    start, slab, windows = jobs.explain_tiles_task(job, source, settings, range(2), statistics)
    assert read == []
    assert start == 0 and len(windows) == 2 and slab.any()
    # the first window's voxels covered by it alone hold its map, as in the whole run
    np.testing.assert_allclose(slab[:8, :4, :2], whole[:8, :4, :2], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("address", ["nonsense", "tcp://localhost", "http://localhost:8786"])
def test_a_malformed_scheduler_address_says_how_to_write_one(address, inputs, tmp_path, capsys):
    model_file, tomograms = inputs
    args = ["explain", str(tomograms[0]), "--model", str(model_file), "--out", str(tmp_path)]
    assert main([*args, "--scheduler", address]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"respond-cam: error: {address!r} is not a Dask scheduler's address (")
    assert "give it as tcp://host:port" in err and "Traceback" not in err
    # the caller's own Dask computations still run on their scheduler
    assert dask.config.get("scheduler", None) is None
    assert dask.array.ones(4, chunks=2).sum().compute() == 4


@pytest.mark.parametrize(("tasks", "binning"), [("1", "1"), ("2", "1"), ("1", "2"), ("2", "2")])
def test_the_cluster_prints_each_files_summary_as_a_run_here_does(
    cluster, inputs, tmp_path, capsys, tasks, binning
):
    model_file, tomograms = inputs
    if binning == "2":
        rng = np.random.default_rng(1)
        tomograms = [write_mrc(tmp_path / f"big{i}.mrc", rng.normal(size=(48, 40, 36))
                               .astype(np.float32), 3.75) for i in range(2)]  # fmt: skip

    def summaries(out, *extra):
        run_cli(model_file, tomograms[:2], out, "--bin", binning, *extra)
        lines = capsys.readouterr().out.splitlines()
        return lines[2:-1]  # past the two files written, before the time taken

    here = summaries(tmp_path / "here")
    split = ["--scheduler", cluster.scheduler_address, "--tasks-per-file", tasks]
    there = summaries(tmp_path / "there", *split)
    assert here[0].endswith(".mrc:")
    assert any(line.startswith("Binned by 2") for line in here) == (binning == "2")

    def without_residual(lines):
        # The residual is float rounding (1e-10) that differs with the batches' make-up.
        return [line.split(", sum − (score − bias) = ")[0] for line in lines]

    assert without_residual(there) == without_residual(here)
