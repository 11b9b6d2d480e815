"""How messages name a setting in Python, on the command line and in napari."""

import argparse

from napari_respond_cam.cli.app import build_parser
from napari_respond_cam.errors import SETTING_NAMES, in_every_front_end, setting


def test_one_way_of_doing_something_in_every_front_end():
    assert in_every_front_end("trust=True", "--trust", "tick 'trust this file'") == (
        "trust=True in Python, --trust on the command line, tick 'trust this file' in napari"
    )


def test_a_setting_by_name_and_with_a_value():
    assert setting("batch_size") == (
        "batch_size in Python, --batch-size on the command line, the 'batch size' control in napari"
    )
    assert setting("device", "cpu") == (
        "device='cpu' in Python, --device cpu on the command line, the 'device' control set "
        "to cpu in napari"
    )
    # A cube is one number for the flag and the spin box; other shapes are all three.
    assert "--window 16 on the command line, the 'window' control set to 16" in setting(
        "window", (16, 16, 16)
    )
    assert "--window 8 12 16 on the command line, the 'window' control set to 8 in" in setting(
        "window", (8, 12, 16)
    )


def test_every_flag_named_in_messages_is_a_flag_of_respond_cam_explain():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    explain_flags = {
        flag for action in subcommands.choices["explain"]._actions for flag in action.option_strings
    }
    assert {flag for _, flag, _ in SETTING_NAMES.values()} <= explain_flags


def test_the_packages_warnings_name_the_users_line_and_filter_by_their_category():
    import warnings

    from napari_respond_cam import RespondCamWarning, load_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_model("cnn1")  # random weights: a warning
    [warning] = caught
    assert warning.category is RespondCamWarning
    assert warning.filename == __file__  # this line, not the library's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=RespondCamWarning)
        load_model("cnn1")
    assert caught == []
