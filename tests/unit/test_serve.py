"""The supervisor's socket: the one systemd passes (sd_listen_fds rules), else HOST:PORT."""

from __future__ import annotations

import os
import socket

import pytest

from service.server.supervisor import (
    SD_LISTEN_FDS_START,
    ServeError,
    announce_ready_to_pm2,
    bound_socket,
    inherited_socket,
)


def test_no_listen_fds_means_no_inherited_socket() -> None:
    assert inherited_socket({}) is None


def test_a_socket_meant_for_another_process_is_left_alone() -> None:
    assert inherited_socket({"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid() + 1)}) is None


def test_more_than_one_socket_is_refused_in_one_line() -> None:
    with pytest.raises(ServeError, match="exactly one socket"):
        inherited_socket({"LISTEN_FDS": "2", "LISTEN_PID": str(os.getpid())})


def test_the_socket_on_fd_3_is_taken_and_the_variables_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listener = bound_socket("127.0.0.1", 0)
    saved = os.dup(SD_LISTEN_FDS_START) if _is_open(SD_LISTEN_FDS_START) else None
    os.dup2(listener.fileno(), SD_LISTEN_FDS_START)
    monkeypatch.setenv("LISTEN_FDS", "1")
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    try:
        taken = inherited_socket()
        assert taken is not None
        assert taken.getsockname() == listener.getsockname()
        assert taken.type == socket.SOCK_STREAM
        assert "LISTEN_FDS" not in os.environ and "LISTEN_PID" not in os.environ
        taken.detach()
    finally:
        if saved is not None:
            os.dup2(saved, SD_LISTEN_FDS_START)
            os.close(saved)
        else:
            os.close(SD_LISTEN_FDS_START)
        listener.close()


def test_a_busy_port_is_said_in_one_line() -> None:
    first = bound_socket("127.0.0.1", 0)
    try:
        with pytest.raises(ServeError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            bound_socket("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_pm2_is_told_once_the_service_serves() -> None:
    ours, pm2s = socket.socketpair()
    try:
        assert announce_ready_to_pm2({"NODE_CHANNEL_FD": str(ours.fileno())})
        assert pm2s.recv(100) == b'"ready"\n'  # what Node's process.send('ready') writes
    finally:
        ours.close()
        pm2s.close()
    assert not announce_ready_to_pm2({})  # not under pm2
    assert not announce_ready_to_pm2({"NODE_CHANNEL_FD": "999"})  # no such descriptor
