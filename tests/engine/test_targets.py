"""Target plans: validating ``target``, slicing it per chunk, and the scores it picks."""

import dataclasses
import pickle

import numpy as np
import pytest
import torch

from array_likes import SlicedOnly
from napari_respond_cam import RespondCamError, region_target
from napari_respond_cam.engine.class_index import fallback_class_names
from napari_respond_cam.engine.targets import (
    RegionTarget,
    WindowRegions,
    class_by_name,
    plan_targets,
)

LOGITS = torch.tensor([[0.5, 2.0, -1.0], [3.0, 1.0, 4.0], [-2.0, -3.0, -1.5], [1.0, 0.0, 0.5]])


def test_none_explains_each_samples_predicted_class():
    plan = plan_targets(None, 4)
    assert plan.kind == "predicted" and not plan.per_class
    scores, classes = plan.scores(LOGITS)
    assert classes.tolist() == [1, 2, 2, 0]
    assert scores.tolist() == [2.0, 4.0, -1.5, 1.0]


def test_one_int_is_that_class_for_every_sample():
    plan = plan_targets(2, 4)
    assert plan.kind == "classes"
    assert plan.classes.tolist() == [2, 2, 2, 2] and plan.classes.dtype == np.int64
    scores, classes = plan.scores(LOGITS)
    assert classes.tolist() == [2, 2, 2, 2]
    assert scores.tolist() == [-1.0, 4.0, -1.5, 0.5]


def test_numpy_ints_and_one_class_per_sample():
    assert plan_targets(np.int16(1), 3).classes.tolist() == [1, 1, 1]
    given = np.array([0, 2, 1, 1], dtype=np.int8)
    plan = plan_targets(given, 4)
    assert plan.classes.tolist() == [0, 2, 1, 1] and plan.classes.dtype == np.int64
    scores, classes = plan.scores(LOGITS)
    assert scores.tolist() == [0.5, 4.0, -3.0, 0.0]
    assert classes.dtype == torch.int64
    assert given.tolist() == [0, 2, 1, 1] and given.dtype == np.int8


def test_rows_slice_the_classes_of_a_chunk_and_keep_the_other_kinds():
    plan = plan_targets([0, 2, 1, 1], 4)
    chunk = plan.rows(1, 3)
    assert chunk.kind == "classes" and chunk.classes.tolist() == [2, 1]
    scores, classes = chunk.scores(LOGITS[1:3])
    assert scores.tolist() == [4.0, -3.0] and classes.tolist() == [2, 1]
    assert plan.classes.tolist() == [0, 2, 1, 1]
    for other in (plan_targets(None, 4), plan_targets("all", 4), plan_targets(len, 4)):
        assert other.rows(1, 3) is other


def test_all_classes_gives_every_logit_and_every_index():
    plan = plan_targets("all", 4)
    assert plan.per_class
    scores, classes = plan.scores(LOGITS)
    assert torch.equal(scores, LOGITS)
    assert classes.tolist() == [0, 1, 2]


def test_a_function_target_scores_each_sample_with_no_classes():
    plan = plan_targets(lambda out: out[:, 0] - out[:, 2], 4)
    assert plan.kind == "function" and not plan.per_class
    scores, classes = plan.scores(LOGITS)
    assert scores.tolist() == [1.5, -1.0, -0.5, 0.5]
    assert classes is None


@pytest.mark.parametrize(
    "output",
    [
        {"seg": torch.ones(3, 2, 4), "aux": torch.ones(7)},
        (torch.ones(3, 2, 4), torch.ones(7)),
        [{"seg": torch.ones(3, 2, 4)}],
    ],
)
def test_a_function_of_a_structured_output_is_checked_against_its_first_tensor(output):
    def first_sum(out):
        while not isinstance(out, torch.Tensor):
            out = next(iter(out.values())) if isinstance(out, dict) else out[0]
        return out.sum(dim=(1, 2))

    scores, _ = plan_targets(first_sum, 3).scores(output)
    assert scores.tolist() == [8.0, 8.0, 8.0]
    with pytest.raises(RespondCamError, match=r"returned \(1,\); .* shape \(3,\)"):
        plan_targets(lambda out: torch.zeros(1), 3).scores(output)


def test_a_function_returning_no_tensor_or_one_column_is_refused():
    with pytest.raises(RespondCamError, match=r"returned float; .* shape \(4,\)"):
        plan_targets(lambda out: 1.0, 4).scores(LOGITS)
    with pytest.raises(RespondCamError, match=r"returned \(4, 1\); .* shape \(4,\)"):
        plan_targets(lambda out: out[:, :1], 4).scores(LOGITS)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("everything", "Unknown target 'everything'"),
        (True, "The target True is not a class index"),
        ([True, False], r"The target \[True, False\] is not a class index"),
        (1.0, "The target 1.0 is not a class index"),
        ([0, 1.5], "is not a class index"),
        ([0, 1, 2], "3 target classes were given for 4 samples"),
        ([[0, 1], [1, 0]], "target classes were given for 4 samples; pass one per sample"),
    ],
)
def test_targets_that_are_no_class_or_of_the_wrong_count_are_refused(target, message):
    before = repr(target)
    with pytest.raises(RespondCamError, match=message):
        plan_targets(target, 4)
    assert repr(target) == before


def test_classes_out_of_range_are_named_when_scored():
    plan = plan_targets([0, 3, -1, 1], 4)
    with pytest.raises(RespondCamError, match=r"class 3 is out of range: .* 3 classes \(0 to 2\)"):
        plan.scores(LOGITS)
    with pytest.raises(RespondCamError, match="class -1 is out of range"):
        plan.rows(2, 4).scores(LOGITS[2:])
    assert plan.rows(0, 1).scores(LOGITS[:1])[0].tolist() == [0.5]


@pytest.mark.parametrize(
    ("output", "shown"),
    [(torch.zeros(2, 3, 4), r"\(2, 3, 4\)"), ((torch.zeros(2, 3),), "tuple")],
)
def test_class_targets_need_an_n_by_classes_output(output, shown):
    for plan in (plan_targets(None, 2), plan_targets(0, 2), plan_targets("all", 2)):
        with pytest.raises(RespondCamError, match=rf"shaped \(N, classes\), but it is {shown}"):
            plan.scores(output)


def test_region_target_weights_the_channel_by_the_mask_and_its_gradient_is_the_mask():
    output = torch.arange(2 * 2 * 2 * 3, dtype=torch.float32).reshape(2, 2, 2, 3)
    output.requires_grad_(True)
    mask = np.array([[1.0, 0.0, 0.5], [0.0, 2.0, 0.0]])
    scores = region_target(1, mask)(output)
    # Sample 0, channel 1 holds 6..11; sample 1, channel 1 holds 18..23.
    assert scores.tolist() == [6 + 0.5 * 8 + 2 * 10, 18 + 0.5 * 20 + 2 * 22]
    scores.sum().backward()
    assert torch.equal(output.grad[:, 0], torch.zeros(2, 2, 3))
    for sample in range(2):
        assert output.grad[sample, 1].tolist() == mask.tolist()
    assert mask.tolist() == [[1.0, 0.0, 0.5], [0.0, 2.0, 0.0]]


def test_region_target_without_a_mask_sums_the_whole_channel_and_fits_plan_targets():
    output = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    scores, classes = plan_targets(region_target(2), 2).scores(output)
    assert scores.tolist() == [8 + 9 + 10 + 11, 20 + 21 + 22 + 23]
    assert classes is None


def test_region_mask_of_another_grid_is_refused_on_every_call():
    mask = np.ones((2, 2), dtype=bool)
    score = region_target(0, mask)
    for _ in range(2):
        with pytest.raises(RespondCamError, match=r"mask has shape \(2, 2\) .* grid is \(2, 3\)"):
            score(torch.zeros(1, 1, 2, 3))
    assert mask.all() and mask.shape == (2, 2)


def test_region_target_is_a_frozen_record_that_pickles_without_its_device_copies():
    mask = np.array([[1.0, 0.0, 0.5], [0.0, 2.0, 0.0]])
    target = region_target(1, mask)
    assert isinstance(target, RegionTarget)
    assert target.channel == 1 and target.mask is mask  # the user's mask, not a copy
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.channel = 0
    output = torch.arange(12, dtype=torch.float32).reshape(1, 2, 2, 3)
    assert target(output).tolist() == [6 + 0.5 * 8 + 2 * 10]
    copy = pickle.loads(pickle.dumps(target))
    assert copy.channel == 1 and copy.mask.tolist() == mask.tolist()
    assert copy(output).tolist() == [6 + 0.5 * 8 + 2 * 10]


def test_window_regions_weigh_each_sample_by_its_own_weights_and_padding_by_none():
    output = torch.arange(3 * 2 * 2, dtype=torch.float32).reshape(3, 2, 2)
    weights = torch.tensor([[1.0, 0.0], [0.5, 2.0]])
    # Two windows' weights; the third row is padding up to an exported batch size.
    scores = WindowRegions(1, weights)(output)
    assert scores.tolist() == [2.0, 0.5 * 6 + 2 * 7, 0.0]
    with pytest.raises(RespondCamError, match=r"channel 2, but the model gives 2 channel"):
        WindowRegions(2, weights)(output)


def test_a_class_name_is_read_as_its_index_and_other_targets_pass_through():
    named = torch.nn.Identity()
    named.class_names = ("ribosome", "proteasome", "membrane")
    assert class_by_name("membrane", named) == 2
    for target in (None, 1, [0, 2], "all", len):
        assert class_by_name(target, named) is target
    with pytest.raises(RespondCamError) as refused:
        class_by_name("lipid", named)
    assert str(refused.value).endswith(
        "a function of the model output. The model's classes: ribosome, proteasome, membrane."
    )
    with pytest.raises(RespondCamError, match=r"the model output\.$"):
        class_by_name("ribosome", torch.nn.Identity())


def test_a_model_that_names_no_classes_takes_the_names_napari_shows_for_them():
    names = fallback_class_names(12)
    assert names[:3] == ["class 0", "class 1", "class 2"]
    assert [class_by_name(name, torch.nn.Identity()) for name in names] == list(range(12))
    for other in ("class 02", "class -1", "class", "Class 1", "class 1 "):
        with pytest.raises(RespondCamError, match=f"Unknown target {other!r}"):
            class_by_name(other, torch.nn.Identity())
    # a model with names of its own is asked by those names only
    named = torch.nn.Identity()
    named.class_names = ("ribosome", "class 0")
    assert class_by_name("class 0", named) == 1
    with pytest.raises(RespondCamError, match="Unknown target 'class 1'"):
        class_by_name("class 1", named)


def test_a_region_target_prints_its_mask_by_shape():
    mask = np.zeros((50, 40, 30), dtype=bool)
    assert repr(region_target(1, mask)) == "RegionTarget(channel=1, mask=bool (50, 40, 30))"
    assert repr(region_target(0)) == "RegionTarget(channel=0, mask=None)"
    lazy = SlicedOnly(np.zeros((40, 30, 20), dtype=np.uint8))
    assert repr(region_target(2, lazy)) == "RegionTarget(channel=2, mask=uint8 (40, 30, 20))"
    assert lazy.reads == 0  # said from its shape, not read
