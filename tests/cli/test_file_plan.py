"""Output names of respond-cam explain: one file per class, with file-system-safe names."""

import pytest

from napari_respond_cam import RespondCamError
from napari_respond_cam.cli.file_plan import file_safe_names, plan_jobs


@pytest.mark.parametrize(
    ("names", "safe"),
    [
        (["ribosome", "26S proteasome"], ["ribosome", "26S_proteasome"]),
        (["a/b", "c:d*e", "../up", "ünï"], ["a_b", "c_d_e", "up", "n"]),
        (["class 0", "class 1"], ["class_0", "class_1"]),
        # equal or empty once made safe: every name gets its index
        (["a b", "a/b", "c"], ["0_a_b", "1_a_b", "2_c"]),
        (["ok", "???"], ["0_ok", "1"]),
        # cut to 64 characters; cut equal, both indexed
        (["x" * 300, "y"], ["x" * 64, "y"]),
        (["x" * 70 + "a", "x" * 70 + "b"], ["0_" + "x" * 64, "1_" + "x" * 64]),
    ],
)
def test_file_safe_names(names, safe):
    assert file_safe_names(names) == safe


def test_every_class_gets_its_own_output_in_class_order(tmp_path):
    source = tmp_path / "tomo.rec.gz"
    jobs = plan_jobs([source], tmp_path / "out", "grad", False, ["ribo some", "proteasome"])
    assert [job.source for job in jobs] == [source]
    assert jobs[0].outputs == (
        tmp_path / "out" / "tomo_gradcam_ribo_some.mrc",
        tmp_path / "out" / "tomo_gradcam_proteasome.mrc",
    )
    assert [p.name for p in (tmp_path / "out").iterdir()] == []
    assert plan_jobs([source], tmp_path, "respond", False)[0].outputs == (
        tmp_path / "tomo_respondcam.mrc",
    )
    assert plan_jobs([source], tmp_path, "layercam", False)[0].outputs == (
        tmp_path / "tomo_layercam.mrc",
    )


def test_two_inputs_with_one_output_name_are_both_named(tmp_path):
    sources = [tmp_path / "t.mrc.gz", tmp_path / "t.rec"]
    with pytest.raises(RespondCamError) as refused:
        plan_jobs(sources, tmp_path / "out", "respond", False)
    message = str(refused.value)
    assert message.startswith(f"{sources[0]} and {sources[1]} would each write to ")
    assert str(tmp_path / "out" / "t_respondcam.mrc") in message and "rename one" in message
