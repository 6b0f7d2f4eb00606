"""The end of a graceful shutdown: let the process exit with status 0.

uvicorn answers SIGTERM (and SIGINT, what pm2 sends) with a graceful shutdown, then raises the
signal again with its default action, so the process ends "killed by SIGTERM" (or with a
KeyboardInterrupt traceback): its exit status is not 0 and its atexit handlers never run (an
embedded PostgreSQL is left running, for one). Once the application has closed all it holds,
blocking both signals in the main thread turns that second raise into a no-op: uvicorn returns,
atexit handlers run, and the process exits 0. SIGINT is handled exactly like SIGTERM.
"""

from __future__ import annotations

import signal
import threading


def uvicorn_will_reraise_sigterm() -> bool:
    handler = signal.getsignal(signal.SIGTERM)
    return (
        getattr(handler, "__module__", None) == "uvicorn.server"
        and getattr(handler, "__qualname__", None) == "Server.handle_exit"
    )


def exit_cleanly_after_shutdown() -> None:
    """Call last in the lifespan's shutdown; a no-op unless uvicorn runs us in this thread."""
    if threading.current_thread() is threading.main_thread() and uvicorn_will_reraise_sigterm():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
