"""The shutdown's last line of code, outside uvicorn: it changes nothing (under uvicorn, SIGTERM
is tested on a real process in system/test_graceful_shutdown.py)."""

from __future__ import annotations

import signal


def test_sigterm_is_left_alone_outside_uvicorn() -> None:
    """The block is for uvicorn's re-raise only: elsewhere (this test run) nothing changes."""
    from service.shutdown import exit_cleanly_after_shutdown, uvicorn_will_reraise_sigterm

    assert not uvicorn_will_reraise_sigterm()
    exit_cleanly_after_shutdown()
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
