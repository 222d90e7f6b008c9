"""Ctrl-C that ends a program at once, even inside a compiled JAX computation.

Python runs a signal handler only between bytecodes of the main thread, so a ``KeyboardInterrupt``
waits until a running XLA computation (or compilation) returns: 30-60 s on the larger networks.
:func:`exit_on_interrupt` lets the C-level handler write to a wake-up socket
(:func:`signal.set_wakeup_fd`) that a daemon thread waits on; XLA releases the GIL while it runs,
so the thread prints one line and ends the process with exit status 130 (128 + SIGINT, the
shell's convention) within milliseconds. For programs only (the console script, the demo, the
experiments): the process ends without unwinding, so a library never installs it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

EXIT_INTERRUPTED = 130
_WATCHERS: list = []  # the sockets must outlive the call: a closed writer wakes the thread


def exit_on_interrupt(prefix: str) -> None:
    """From now on, Ctrl-C (SIGINT) prints ``"{prefix}: interrupted"`` to stderr and ends the
    process with exit status 130. Call once, from the main thread, before the work starts."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("exit_on_interrupt must be called from the main thread")
    if _WATCHERS:
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    # a Python-level handler that does nothing: the C handler then wakes the socket, and no
    # KeyboardInterrupt races the thread to print a traceback
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)

    def watch() -> None:
        while (byte := reader.recv(1)) != bytes([signal.SIGINT]):
            if not byte:  # the socket closed: nothing more will come
                return
        sys.stderr.write(f"{prefix}: interrupted\n")
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)

    _WATCHERS.append((reader, writer))
    threading.Thread(target=watch, name="exit-on-interrupt", daemon=True).start()
