"""cmdb.jobs.interrupts with ansible-runner's real handler installer, in this process's main thread."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from ansible_runner.utils import signal_handler as ansible_runner_installs_handlers

from cmdb.jobs.interrupts import STOP_SIGNALS, stop_signals_handled, worker_signals_kept


@pytest.fixture
def worker_handler() -> Iterator[list[int]]:
    """A worker's stop handler that records the signals it got; the test process's handlers come back after."""
    got: list[int] = []
    with stop_signals_handled(lambda signum, frame: got.append(signum)):
        yield got


def test_handlers_replaced_by_ansible_runner_are_restored(worker_handler: list[int]) -> None:
    ours = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    with worker_signals_kept():
        ansible_runner_installs_handlers()
        assert all(signal.getsignal(sig) is not ours[sig] for sig in STOP_SIGNALS)
    assert {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} == ours
    assert worker_handler == []  # nothing arrived, nothing is raised


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_taken_by_ansible_runner_during_the_job_reaches_the_worker_after_it(
        worker_handler: list[int], signum: int) -> None:
    with worker_signals_kept():
        cancelled = ansible_runner_installs_handlers()
        assert cancelled is not None and not cancelled()
        os.kill(os.getpid(), signum)
        assert cancelled()  # ansible-runner got it (it cancels its playbook) ...
        assert worker_handler == []  # ... and the worker's handler did not
    assert worker_handler == [signum]  # raised again once the handlers were back


def test_a_signal_the_worker_handled_itself_is_not_raised_twice(worker_handler: list[int]) -> None:
    with worker_signals_kept():
        os.kill(os.getpid(), signal.SIGTERM)
    assert worker_handler == [signal.SIGTERM]


def test_outside_the_main_thread_nothing_changes() -> None:
    outcome: dict[str, Any] = {}

    def job() -> None:
        with worker_signals_kept(), stop_signals_handled(lambda signum, frame: None):
            outcome["ran"] = True

    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert outcome == {"ran": True}
    assert {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} == before
