"""What the pickers offer, and the core arguments they stand for."""

import pytest
import torch

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.runs.choices import (
    ALL_CLASSES_LABEL,
    PREDICTED,
    class_names_of,
    device_choices,
    model_input_size,
    resolve_device,
    target_argument,
    target_choices,
    tiling_defaults,
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
