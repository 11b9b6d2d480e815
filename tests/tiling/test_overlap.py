"""Prefetching batches and writing results back in order, beside the device loop."""

import threading
import time

import pytest
import torch

from napari_respond_cam.tiling.overlap import BatchOverlap, InLineBatches, host_work_runner
from napari_respond_cam.tiling.progress import Cancelled


def test_the_prefetched_batch_is_used_and_the_next_one_is_started():
    prepared = []
    with BatchOverlap(lambda batch: prepared.append(batch) or list(batch)) as overlap:
        assert overlap.prepared(range(0, 2), range(2, 4)) == [0, 1]
        assert overlap.prepared(range(2, 4), range(4, 5)) == [2, 3]
        assert overlap.prepared(range(4, 5), range(5, 5)) == [4]
    assert prepared == [range(0, 2), range(2, 4), range(4, 5)]


def test_a_wrong_guess_is_dropped_and_the_asked_batch_prepared():
    prepared = []
    with BatchOverlap(lambda batch: prepared.append(batch) or list(batch)) as overlap:
        overlap.prepared(range(0, 4), range(4, 8))
        assert overlap.prepared(range(0, 2), range(2, 4)) == [0, 1]  # the batch was halved
        assert overlap.prepared(range(2, 4), range(4, 6)) == [2, 3]
    assert prepared.count(range(0, 2)) == 1
    assert prepared.count(range(2, 4)) == 1  # prefetched once, after the halved batch


def test_preparation_errors_reach_the_caller():
    def prepare(batch):
        if batch.start == 2:
            raise ValueError("bad window")
        return batch

    with BatchOverlap(prepare) as overlap:
        overlap.prepared(range(0, 2), range(2, 4))
        with pytest.raises(ValueError, match="bad window"):
            overlap.prepared(range(2, 4), range(4, 6))


def test_writes_run_in_order_off_the_calling_thread_and_results_keep_order():
    order, threads = [], set()

    def finish(k, pause):
        def run():
            time.sleep(pause)
            order.append(k)
            threads.add(threading.current_thread().name)
            return k * 10

        return run

    with BatchOverlap(lambda batch: batch) as overlap:
        for k, pause in enumerate([0.05, 0.0, 0.02]):
            overlap.write(finish(k, pause))
        assert overlap.results() == [0, 10, 20]
    assert order == [0, 1, 2]
    assert threads == {"respond-cam-write_0"}


def test_leaving_on_an_error_still_completes_the_writes_handed_over():
    written = []

    def slow_write():
        time.sleep(0.05)
        written.append("done")

    with pytest.raises(KeyboardInterrupt), BatchOverlap(lambda batch: batch) as overlap:
        overlap.write(slow_write)
        raise KeyboardInterrupt
    assert written == ["done"]


def test_a_write_that_failed_is_not_lost_when_leaving_on_a_cancellation():
    def fail():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full") as caught, BatchOverlap(lambda b: b) as overlap:
        overlap.write(fail)
        raise Cancelled(4, 8)
    assert isinstance(caught.value.__context__, Cancelled)


def test_a_failed_write_surfaces_at_the_next_write():
    def fail():
        raise OSError("disk full")

    with BatchOverlap(lambda batch: batch) as overlap:
        overlap.write(fail)
        with pytest.raises(OSError, match="disk full"):
            overlap.write(lambda: None)


def test_in_line_batches_run_each_step_at_once_in_the_calling_thread():
    calls = []

    def prepare(batch):
        calls.append(("prepare", batch, threading.current_thread().name))
        return list(batch)

    with InLineBatches(prepare) as in_line:
        assert in_line.prepared(range(0, 2), range(2, 4)) == [0, 1]
        in_line.write(lambda: calls.append("write") or 7)
        assert calls == [("prepare", range(0, 2), "MainThread"), "write"]
        assert in_line.results() == [7]


@pytest.fixture
def torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_host_work_overlaps_beside_a_gpu_or_a_cpu_with_an_idle_core(torch_threads, monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    torch.set_num_threads(4)
    assert host_work_runner(torch.device("cpu")) is InLineBatches
    assert host_work_runner(torch.device("cuda")) is BatchOverlap
    torch.set_num_threads(3)
    assert host_work_runner(torch.device("cpu")) is BatchOverlap
