"""The heatmap's MRC labels: one fact each, fitted to 80 printable ASCII characters."""

import numpy as np

from napari_respond_cam import Preprocessing, __version__
from napari_respond_cam.jobs.heatmap_labels import heatmap_labels
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.runs.request import ExplainRequest, ExplainSettings


def request(model_name: str, **settings) -> ExplainRequest:
    return ExplainRequest(None, None, ExplainSettings("maxpool2", **settings), model_name)


def test_one_label_per_fact():
    labels = heatmap_labels(request("demo-cnn1", method="grad", precision="bf16"), "ribosome")
    assert labels == [
        f"napari-respond-cam {__version__}",
        "model: demo-cnn1",
        "layer: maxpool2",
        "target: ribosome",
        "method: Grad-CAM",
        "precision: bf16",
        "preprocessing: none (raw voxels)",
    ]


def test_preprocessing_and_binning_say_what_the_model_saw():
    chosen = Preprocessing("percentile", low=2, high=98, invert=True)
    labels = heatmap_labels(request("m", preprocessing=chosen, binning=2), "ribosome")
    assert labels[-2:] == [
        "preprocessing: percentile clipping and scaling (2-98 %), inverted",
        "binning: 2",
    ]


def test_long_and_non_ascii_values_are_fitted_and_written(tmp_path):
    name = "m" * 100 + ".pt"
    labels = heatmap_labels(request(name), "β-galactosidase")
    assert labels[1] == "model: " + "m" * 70 + "..."
    assert len(labels[1]) == 80
    assert labels[3] == "target: ?-galactosidase"
    path = write_mrc(tmp_path / "h.mrc", np.zeros((2, 2, 2), np.float32), labels=labels)
    assert read_mrc(path).header["labels"][1:] == labels


def test_a_model_without_a_name_gets_no_model_label():
    labels = heatmap_labels(request(""), "predicted class")
    assert [label.split(":")[0] for label in labels[1:]] == [
        "layer",
        "target",
        "method",
        "precision",
        "preprocessing",
    ]
