"""File jobs: loading the model by name or file, explaining one MRC file, and pickling."""

import pickle

import numpy as np
import pytest
import torch

from napari_respond_cam import RespondCamError, explain_volume, register_model, save_model
from napari_respond_cam.jobs.file_jobs import (
    FileJob,
    ModelSource,
    explain_mrc_file,
    region_labels,
)
from napari_respond_cam.models import registry
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.runs.regions import Region
from napari_respond_cam.runs.request import ExplainSettings

CLASSES = ("ribosome", "proteasome", "membrane")
VOXEL_SIZE = (7.5, 6.0, 5.0)
ORIGIN = (10.0, -20.0, 30.5)


def small_cnn(seed: int = 0) -> CNN1:
    torch.manual_seed(seed)
    model = CNN1(num_classes=3, input_size=16, channels=(2, 2, 4, 4), dense=(8, 8))
    model.class_names = CLASSES
    return model.eval()


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.fixture
def private_registry(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))


@pytest.fixture
def tomogram(tmp_path):
    """A 20 x 18 x 17 tomogram (larger than the 16^3 window, so it is tiled)."""
    data = np.random.default_rng(0).normal(size=(20, 18, 17)).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, VOXEL_SIZE, ORIGIN), data


def test_a_registered_name_loads_a_built_model_in_eval_mode(private_registry):
    register_model("small", lambda: small_cnn().train(), class_names=CLASSES[::-1])
    model = ModelSource("small").load("cpu")
    assert isinstance(model, CNN1) and not model.training
    assert model.class_names == CLASSES[::-1]
    assert same_weights(model, small_cnn())
    assert {p.device.type for p in model.parameters()} == {"cpu"}


def test_a_saved_model_file_loads_with_its_weights_and_metadata(tmp_path):
    model = small_cnn(seed=3)
    path = save_model(model, tmp_path / "small.pt")
    saved = path.read_bytes()
    loaded = ModelSource(str(path)).load("cpu")
    assert loaded is not model and not loaded.training
    assert same_weights(loaded, model)
    assert loaded.class_names == CLASSES and loaded.input_shape == (1, 16, 16, 16)
    assert path.read_bytes() == saved


def test_the_architecture_reaches_the_loader_for_bare_weights(tmp_path):
    model = small_cnn(seed=4)
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    saved = path.read_bytes()
    with pytest.raises(RespondCamError, match=r"bare weights .*architecture='cnn1'"):
        ModelSource(str(path)).load("cpu")
    loaded = ModelSource(str(path), architecture="cnn1").load("cpu")
    assert isinstance(loaded, CNN1) and same_weights(loaded, model)
    assert path.read_bytes() == saved


def test_an_unknown_name_is_refused(tmp_path):
    with pytest.raises(RespondCamError, match=r"'no-such-model' is neither a model name"):
        ModelSource("no-such-model").load("cpu")
    missing = tmp_path / "missing.pt"
    with pytest.raises(RespondCamError, match="neither a model name .* nor an existing file"):
        ModelSource(str(missing)).load("cpu")
    assert not missing.exists()


@pytest.mark.parametrize(
    "chosen",
    [
        {},
        {"target": 2, "method": "grad", "stride": (4, 5, 6), "batch_size": 3, "layer": "conv4"},
    ],
)
def test_the_written_heatmap_is_explain_volume_on_the_file_with_its_geometry(
    tomogram, tmp_path, chosen
):
    path, data = tomogram
    settings = ExplainSettings(**{"layer": "maxpool2", "device": "cpu", **chosen})
    model = small_cnn()
    before = path.read_bytes()
    job = FileJob(path, (tmp_path / "heatmap.mrc",))
    outcome = explain_mrc_file(model, job, settings)
    expected = explain_volume(model, data, target=settings.target, **settings.tiling_arguments())
    written = read_mrc(job.outputs[0])
    assert written.data.shape == data.shape == expected.shape
    np.testing.assert_array_equal(written.data, expected)
    np.testing.assert_array_equal(outcome.heatmap, expected)
    assert written.voxel_size == VOXEL_SIZE and written.origin == ORIGIN
    assert outcome.request.volume_name == "tomo.mrc"
    assert outcome.request.class_names == CLASSES
    assert path.read_bytes() == before


def test_all_classes_write_one_map_per_class_to_one_stack_or_one_file_each(tomogram, tmp_path):
    path, data = tomogram
    model = small_cnn()
    settings = ExplainSettings("maxpool2", target="all", device="cpu", where_predicted=False)
    stack = FileJob(path, (tmp_path / "all.mrc",))
    each = FileJob(path, tuple(tmp_path / f"{name}.mrc" for name in CLASSES))
    explain_mrc_file(model, stack, settings)
    explain_mrc_file(model, each, settings, model_name="small.pt")
    written = read_mrc(stack.outputs[0])
    assert written.data.shape == (3, *data.shape)
    assert written.voxel_size == VOXEL_SIZE and written.origin == ORIGIN
    assert written.header["labels"][3] == "target: all classes"  # no model name: no label
    for k, output in enumerate(each.outputs):
        expected = explain_volume(model, data, "maxpool2", target=k, device="cpu")
        np.testing.assert_array_equal(written.data[k], expected)
        one = read_mrc(output)
        np.testing.assert_array_equal(one.data, expected)
        assert one.voxel_size == VOXEL_SIZE and one.origin == ORIGIN
        assert one.header["labels"][2:5] == [
            "model: small.pt",
            "layer: maxpool2",
            f"target: {CLASSES[k]}",
        ]


def test_progress_counts_the_windows(tomogram, tmp_path):
    path, _ = tomogram
    calls = []
    settings = ExplainSettings("maxpool2", device="cpu", batch_size=4)
    explain_mrc_file(
        small_cnn(), FileJob(path, (tmp_path / "p.mrc",)), settings, lambda *c: calls.append(c)
    )
    # 20 x 18 x 17 in windows of 16 with stride 8: two starts per axis, 8 windows.
    assert calls == [(0, 8), (4, 8), (8, 8)]


def test_an_existing_output_is_kept_unless_overwrite(tomogram, tmp_path):
    path, data = tomogram
    target = write_mrc(tmp_path / "old.mrc", np.ones((2, 3, 4), np.float32))
    old = target.read_bytes()
    job, settings = FileJob(path, (target,)), ExplainSettings("maxpool2", device="cpu")
    with pytest.raises(FileExistsError, match="already exists and was left untouched"):
        explain_mrc_file(small_cnn(), job, settings)
    assert target.read_bytes() == old
    explain_mrc_file(small_cnn(), job, settings, overwrite=True)
    assert read_mrc(target).data.shape == data.shape


def test_descriptions_survive_pickling_as_equal_hashable_values(tmp_path):
    values = [
        ModelSource("cnn1-demo"),
        ModelSource(str(tmp_path / "w.pt"), architecture="cnn1", trust=True),
        ExplainSettings("maxpool2", target="all", method="grad", window=(16, 16, 16), stride=8),
        FileJob(tmp_path / "in.mrc", (tmp_path / "a.mrc", tmp_path / "b.mrc")),
    ]
    for value in values:
        copy = pickle.loads(pickle.dumps(value))
        assert copy == value and hash(copy) == hash(value)
        assert copy is not value


def test_a_pickled_model_source_loads_the_same_model(tmp_path):
    path = save_model(small_cnn(seed=5), tmp_path / "small.pt")
    source = pickle.loads(pickle.dumps(ModelSource(str(path))))
    assert same_weights(source.load("cpu"), small_cnn(seed=5))


def test_a_region_mask_file_is_read_where_the_job_runs(tmp_path):
    labels = np.zeros((4, 5, 6), dtype=np.int16)
    labels[1, 2, 3:5] = 4
    path = write_mrc(tmp_path / "labels.mrc", labels)
    read = region_labels(Region("labels", mask_file=str(path)))
    np.testing.assert_array_equal(read, labels)
    assert region_labels(Region("whole")) is None and region_labels(None) is None
    missing = Region("labels", mask_file=str(tmp_path / "none.mrc"))
    with pytest.raises(RespondCamError, match=r"Cannot read the region mask \(mask_file in "
                       r"Python, --region-mask on the command line.*No such file"):  # fmt: skip
        region_labels(missing)
