"""What the pickers offer, and the core arguments they stand for."""

import pytest
import torch

from napari_respond_cam.engine.preprocessing import Preprocessing
from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.runs.choices import (
    ALL_CLASSES_LABEL,
    PREDICTED,
    binning_note,
    class_names_of,
    device_choices,
    model_input_size,
    preprocessing_argument,
    preprocessing_choices,
    resolve_device,
    suggested_binning,
    target_argument,
    target_choices,
    tiling_defaults,
    voxel_size_warning,
)
from tiny_classifier import CLASSES, tiny_cnn1
from toy_models import GapHead


def test_targets_are_predicted_all_then_each_class():
    choices = target_choices(CLASSES)
    assert choices == [PREDICTED, ALL_CLASSES_LABEL, "ribosome", "proteasome", "membrane"]
    assert [target_argument(c, CLASSES) for c in choices] == [None, "all", 0, 1, 2]


def test_class_names_come_from_the_model_or_from_its_output_size():
    assert class_names_of(tiny_cnn1()) == list(CLASSES)
    unnamed = tiny_cnn1()
    del unnamed.class_names
    assert class_names_of(unnamed) == ["class 0", "class 1", "class 2"]
    assert class_names_of(GapHead(dims=3)) == []  # no input shape to try it on


def test_devices_start_with_auto_and_end_with_the_cpu():
    devices = device_choices()
    assert devices[0] == "auto" and devices[-1] == "cpu"
    assert ("cuda" in devices) == torch.cuda.is_available()
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else devices[1])


def test_tiling_defaults_follow_the_models_input():
    assert model_input_size(tiny_cnn1()) == (16, 16, 16)
    defaults = tiling_defaults(tiny_cnn1())
    assert (defaults.window, defaults.stride, defaults.batch_size) == (16, 8, 8)
    free = tiling_defaults(GapHead(dims=3))
    assert model_input_size(GapHead(dims=3)) is None
    assert (free.window, free.stride) == (64, 32)


def test_a_class_not_in_the_list_is_a_programming_error():
    with pytest.raises(ValueError):
        target_argument("nonsense", CLASSES)


@pytest.mark.parametrize(
    ("text", "target"),
    [(None, None), ("predicted class", None), ("all", "all"), ("membrane", 2), ("1", 1)],
)
def test_the_command_lines_words_read_as_the_pickers(text, target):
    assert target_argument(text, CLASSES) == target


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3", r"Class 3 is out of range: the model has 3 classes \(0 to 2\)"),
        ("-1", r"Class -1 is out of range"),
        ("nucleosome", r"'nucleosome' is not a class of this model; use one of 'ribosome'"),
    ],
)
def test_a_target_that_is_not_a_class_says_which_are(text, message):
    with pytest.raises(RespondCamError, match=message):
        target_argument(text, CLASSES)


def test_an_index_is_taken_as_given_when_the_model_names_no_classes():
    assert target_argument("7", ()) == 7
    with pytest.raises(RespondCamError, match="use a class index"):
        target_argument("ribosome", ())


def test_the_preprocessing_picker_offers_the_models_own_first():
    model = tiny_cnn1()
    assert preprocessing_choices(model) == [
        "none",
        "zscore-window",
        "zscore-tomogram",
        "percentile",
    ]
    model.preprocessing = Preprocessing("percentile", low=0.5, high=99.5)
    assert preprocessing_choices(model) == [
        "percentile",
        "none",
        "zscore-window",
        "zscore-tomogram",
    ]


def test_a_picked_preprocessing_and_the_invert_switch_become_the_settings_value():
    model = tiny_cnn1()
    model.preprocessing = Preprocessing("percentile", low=0.5, high=99.5)
    assert preprocessing_argument(None, model) is None  # the model's own, as it is
    # its own kind keeps its percentiles; another kind takes the defaults
    assert preprocessing_argument("percentile", model, invert=True) == Preprocessing(
        "percentile", low=0.5, high=99.5, invert=True
    )
    assert preprocessing_argument(None, model, invert=True).low == 0.5
    assert preprocessing_argument("zscore-window", model) == Preprocessing("zscore-window")
    with pytest.raises(RespondCamError, match=r"Unknown preprocessing 'z'.*--preprocessing"):
        preprocessing_argument("z", model)
    assert model.preprocessing == Preprocessing("percentile", low=0.5, high=99.5)


@pytest.mark.parametrize(
    ("voxel_size", "factor"),
    [(2.85, 4), (2.7, 4), (5.0, 2), (3.2, 4), (3.5, 3), (11.4, 1), (20.0, 1), ((3, 2.6, 2.9), 4)],
)
def test_the_suggested_binning_brings_the_voxel_size_closest_by_ratio(voxel_size, factor):
    # 3.2: 3 x 3.2 = 9.6 is 16 % under 11.4, 4 x 3.2 = 12.8 12 % over; 3.5: 10.5 beats 14
    assert suggested_binning(11.4, voxel_size) == factor


def test_a_far_voxel_size_gets_a_sentence_saying_which_binning_to_use():
    assert voxel_size_warning(11.4, 2.85) == (
        "The tomogram's voxels are 2.85 Å but the model was trained at 11.4 Å, so it sees "
        "every particle at the wrong size; bin it by 4 (binning=4 in Python, --bin 4 on the "
        "command line, the 'binning' control set to 4 in napari) to explain it at 11.4 Å."
    )
    assert voxel_size_warning(11.4, 2.85, binning=2).startswith(
        "The tomogram's voxels are 2.85 Å (5.7 Å binned by 2) but"
    )
    assert voxel_size_warning(11.4, 20.0).endswith(
        "no whole binning factor brings them closer; rescale the tomogram to about 11.4 Å "
        "per voxel first."
    )
    # within 25 %: 9 and 14 Å pass, 8.5 and 14.3 do not
    assert voxel_size_warning(11.4, 9.0) is None and voxel_size_warning(11.4, 14.0) is None
    assert voxel_size_warning(11.4, 8.5) and voxel_size_warning(11.4, 14.3)
    assert voxel_size_warning(None, 2.85) is None and voxel_size_warning(11.4, None) is None


def test_voxels_that_are_not_cubes_are_described_axis_by_axis():
    # the mean of 22.8, 11.4, 11.4 is 15.2 Å: no such voxel side exists
    assert voxel_size_warning(11.4, (22.8, 11.4, 11.4)) == (
        "The tomogram's voxels are 22.8 × 11.4 × 11.4 Å (z × y × x) but the model was trained "
        "at 11.4 Å, in cubes, so it sees every particle at the wrong size and squashed, and no "
        "whole binning factor brings them closer; rescale the tomogram to about 11.4 Å per "
        "voxel along every axis first."
    )
    # z is half the model's size: the mean (9.5 Å) is within 25 %, the z side is not
    assert voxel_size_warning(11.4, (5.7, 11.4, 11.4)) is not None
    # both sides within 25 % once binned by 2: binning is the advice
    assert voxel_size_warning(11.4, (5.0, 6.0, 6.0)).endswith(
        "bin it by 2 (binning=2 in Python, --bin 2 on the command line, the 'binning' control "
        "set to 2 in napari) to explain it at 10 × 12 × 12 Å (z × y × x)."
    )
    assert voxel_size_warning(11.4, (11.4, 11.45, 11.4)) is None


def test_a_binned_run_says_what_the_model_saw():
    assert binning_note(1, 5.7) is None
    assert binning_note(3, (4.0, 3.8, 3.8)) == (
        "Binned by 3: the model saw 3×3×3 block averages of the volume, voxels of 12 × 11.4 "
        "× 11.4 Å (z × y × x); the map is back on the volume's own grid."
    )
    assert binning_note(2, None) == (
        "Binned by 2: the model saw 2×2×2 block averages of the volume; the map is back on "
        "the volume's own grid."
    )
