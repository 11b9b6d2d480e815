"""--threads limits torch's CPU threads for the subcommands that compute."""

import argparse

import pytest
import torch

from napari_respond_cam.cli.threads_argument import add_threads_argument, apply_threads
from napari_respond_cam.errors import RespondCamError


@pytest.fixture
def restored_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_threads_sets_torchs_thread_count(restored_threads):
    parser = argparse.ArgumentParser()
    add_threads_argument(parser)
    apply_threads(parser.parse_args(["--threads", "1"]).threads)
    assert torch.get_num_threads() == 1


def test_no_threads_leaves_torchs_default(restored_threads):
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser()
    add_threads_argument(parser)
    apply_threads(parser.parse_args([]).threads)
    assert torch.get_num_threads() == 1


def test_fewer_than_one_thread_is_refused_in_the_flags_words():
    with pytest.raises(RespondCamError, match=r"^--threads must be at least 1, got 0\.$"):
        apply_threads(0)


@pytest.mark.parametrize("command", ["explain", "compare", "train"])
def test_every_computing_subcommand_offers_threads(command, capsys):
    from napari_respond_cam.cli.app import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--threads N" in capsys.readouterr().out
