"""The shipped demo models: listed first, small, and right on clean subtomograms."""

from pathlib import Path

import pytest

import napari_respond_cam
from napari_respond_cam import available_models, explain, load_model, target_layers
from napari_respond_cam.simulation import simulate_subtomograms

WEIGHTS = Path(napari_respond_cam.__file__).parent / "models" / "weights"


def test_demo_models_come_first():
    assert available_models()[:2] == ["cnn1-demo", "cnn2-demo"]


@pytest.mark.parametrize(("name", "at_least"), [("cnn1-demo", 24), ("cnn2-demo", 18)])
def test_demo_model_classifies_clean_subtomograms(name, at_least):
    # held-out accuracy without noise: 0.92 (CNN-1) and 0.77 (CNN-2), see the README
    model = load_model(name)
    assert model.input_shape == (1, 40, 40, 40)
    assert model.class_names == (
        "apoferritin", "spliceosome", "ribosome_70s", "sh1_capsid_unit", "membrane_lattice",
        "empty",
    )  # fmt: skip
    data = simulate_subtomograms(24, snr=None, include_empty=True, seed=2024)
    result = explain(model, data.volumes[:, None], target_layers(model)[-1])
    assert (result.targets == data.labels).sum() >= at_least


@pytest.mark.parametrize("filename", ["demo_cnn1.pt", "demo_cnn2.pt"])
def test_weights_are_small(filename):
    assert (WEIGHTS / filename).stat().st_size < 10 * 2**20


def test_demo_model_records_how_it_was_trained():
    record = load_model("cnn1-demo").training_record
    assert record["config"]["architecture"] == "cnn1"
    assert record["final_accuracy"]["inf"] > 0.9
    assert record["final_accuracy"]["0.1"] > 0.5  # chance is 1/6
