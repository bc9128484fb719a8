"""How a worker stops: SIGTERM and SIGINT, and a job must not take them with it.

:func:`stop_signals_handled` installs the worker's own handler for both signals for as long as it
runs (and puts back what was there before, so a worker run inside a test leaves the test process
as it was).

Job code runs in the worker's main thread (the database worker, RQ's in-process worker), and
some libraries it calls install signal handlers of their own there: ``ansible_runner.run()``
replaces the SIGTERM and SIGINT handlers with ones that only cancel its playbook, and never puts
the old ones back.  After one Ansible run the worker ignored both signals and had to be killed.

:func:`worker_signals_kept` wraps each job: afterwards the worker's handlers are back, and a
SIGTERM or SIGINT that arrived during the job while a foreign handler was installed (which
cancelled the playbook, as ansible-runner intends) is raised again, so the worker shuts down as
it was asked to.  Python writes every signal it handles to the wakeup file descriptor whatever
the handler, which is how the signal is noticed without knowing the foreign handler.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

#: The signals that stop a worker.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_signals_handled(handler: Callable[[int, FrameType | None], Any]) -> Iterator[None]:
    """``handler`` for SIGTERM and SIGINT inside the block (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def worker_signals_kept() -> Iterator[None]:
    """Restore the worker's SIGTERM/SIGINT handlers after the block; re-raise a stop signal it swallowed.

    Outside the main thread (a job run by a thread pool, a test client) nothing can have replaced
    the handlers, as only the main thread may set them; the block then runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    try:
        previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # no wakeup fd possible here: still restore the handlers
        reader.close()
        writer.close()
        reader = writer = None
        previous_fd = None
    try:
        yield
    finally:
        received: set[int] = set()
        if writer is not None:
            signal.set_wakeup_fd(previous_fd if previous_fd is not None else -1)
            with contextlib.suppress(BlockingIOError):
                while data := reader.recv(512):
                    received.update(data)
            reader.close()
            writer.close()
        replaced = [sig for sig, handler in saved.items() if signal.getsignal(sig) is not handler]
        for sig in replaced:
            signal.signal(sig, saved[sig])
        for sig in replaced:
            # The foreign handler took this signal; the worker's own handler never saw it.
            if sig in received and saved[sig] not in (signal.SIG_IGN, None):
                logger.warning("%s arrived during the job (its handler had been replaced); stopping now",
                               signal.Signals(sig).name)
                signal.raise_signal(sig)
                break
