"""A request's settings as the engine and the tiler take them, and its labels."""

import pickle

import pytest
import torch

from napari_respond_cam.engine.preprocessing import Preprocessing
from napari_respond_cam.runs.regions import Region
from napari_respond_cam.runs.request import ExplainRequest, ExplainSettings, target_label

CLASSES = ("ribosome", "proteasome", "membrane")


def test_settings_become_the_engine_and_tiling_arguments_with_the_device_resolved():
    settings = ExplainSettings(
        layer="maxpool2", target=1, method="grad", device="auto", window=(8, 16, 16), stride=4
    )
    best = "cuda" if torch.cuda.is_available() else "cpu"
    assert settings.engine_arguments() == {
        "layer": "maxpool2",
        "method": "grad",
        "device": best,
        "precision": "fp32",
        "preprocessing": None,
    }
    assert settings.tiling_arguments() == {
        **settings.engine_arguments(),
        "window": (8, 16, 16),
        "stride": 4,
        "batch_size": None,
    }


def test_settings_travel_to_other_processes():
    settings = ExplainSettings(
        layer="conv3",
        target=2,
        device="cpu",
        batch_size=3,
        preprocessing=Preprocessing("percentile", low=2, high=98, invert=True),
        binning=2,
        channel=1,
        region=Region("labels", label=3, mask_file="/data/labels.mrc"),
    )
    shipped = pickle.dumps(settings)
    assert pickle.loads(shipped) == settings
    assert len(shipped) < 1000  # no array travels with the settings
    assert settings.engine_arguments()["preprocessing"] == settings.preprocessing


def test_a_request_compares_the_volumes_voxel_size_with_the_models_binned_as_set():
    model = torch.nn.Linear(1, 1)
    model.voxel_size_a = 11.4
    far = ExplainRequest(model, None, ExplainSettings("conv3"), voxel_size_a=(2.85, 2.85, 2.85))
    assert far.voxel_size_warning.endswith("to explain it at 11.4 Å.")
    binned = ExplainRequest(model, None, ExplainSettings("conv3", binning=4), voxel_size_a=2.85)
    assert binned.voxel_size_warning is None
    assert ExplainRequest(model, None, ExplainSettings("conv3")).voxel_size_warning is None


def test_a_device_that_is_not_here_is_refused_before_any_work():
    with pytest.raises(ValueError, match="not a device name"):
        ExplainSettings(layer="conv3", device="gpu7").engine_arguments()


@pytest.mark.parametrize(
    ("target", "label"),
    [(None, "predicted class"), ("all", "all classes"), (1, "proteasome"), (4, "class 4")],
)
def test_targets_read_in_words(target, label):
    assert target_label(target, CLASSES) == label
    request = ExplainRequest(None, None, ExplainSettings("conv3", target), class_names=CLASSES)
    assert request.target_label == label


def test_methods_read_by_their_published_names():
    request = ExplainRequest(None, None, ExplainSettings("conv3", method="grad"))
    assert request.method_label == "Grad-CAM"


def test_the_voxel_size_warning_names_the_volume_it_is_about():
    model = torch.nn.Linear(1, 1)
    model.voxel_size_a = 11.4
    request = ExplainRequest(
        model, None, ExplainSettings("conv3"), volume_name="TS_01.mrc", voxel_size_a=5.7
    )
    assert request.voxel_size_warning.startswith("TS_01.mrc: The tomogram's voxels are 5.7 Å")
    close = ExplainRequest(model, None, ExplainSettings("conv3", binning=2), voxel_size_a=5.7)
    assert close.voxel_size_warning is None
