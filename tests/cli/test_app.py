"""respond-cam as a program: arguments it cannot use are one line on stderr, exit code 2."""

import pytest

from napari_respond_cam.cli import main


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["explain", "t.mrc", "--model", "m", "--out", "o", "--stride", "8.5"],
            "respond-cam explain: error: argument --stride: invalid int value: '8.5' "
            "(see respond-cam explain --help)",
        ),
        (
            ["explain", "t.mrc", "--model", "m", "--out", "o", "--preprocessing", "zscore"],
            "respond-cam explain: error: argument --preprocessing: invalid choice: 'zscore'",
        ),
        ([], "respond-cam: error: the following arguments are required: COMMAND"),
        (
            ["layers", "--model", "cnn1-demo", "--windw", "40"],
            "respond-cam layers: error: unrecognized arguments: --windw 40 "
            "(see respond-cam layers --help)",
        ),
    ],
)
def test_unusable_arguments_are_one_line_and_exit_2(argv, line, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1


def test_demo_without_a_display_says_how_to_get_one_instead_of_aborting(monkeypatch, capsys):
    monkeypatch.setattr("sys.platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")  # X11 itself needs a display too
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("respond-cam: error: respond-cam demo opens napari's window, but ")
    assert err.endswith("under a virtual one: xvfb-run -a respond-cam demo.\n")
