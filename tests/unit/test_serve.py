"""The supervisor's socket: the one systemd passes (sd_listen_fds rules), else HOST:PORT."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from service.server.supervisor import (
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


# In a process of its own: fd 3 of a pytest-xdist worker is its pipe to the controller, and a
# socket put there, even for a moment, can corrupt what the worker sends (a crashed worker).
TAKES_FD_3 = """
import json, os, socket
from service.server.supervisor import SD_LISTEN_FDS_START, bound_socket, inherited_socket
listener = bound_socket("127.0.0.1", 0)
os.dup2(listener.fileno(), SD_LISTEN_FDS_START)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
taken = inherited_socket()
print(json.dumps({
    "same": taken is not None and taken.getsockname() == listener.getsockname(),
    "stream": taken is not None and taken.type == socket.SOCK_STREAM,
    "dropped": "LISTEN_FDS" not in os.environ and "LISTEN_PID" not in os.environ,
}))
"""


def test_the_socket_on_fd_3_is_taken_and_the_variables_dropped() -> None:
    done = subprocess.run(
        [sys.executable, "-c", TAKES_FD_3], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == {"same": True, "stream": True, "dropped": True}


def test_a_busy_port_is_said_in_one_line() -> None:
    first = bound_socket("127.0.0.1", 0)
    try:
        with pytest.raises(ServeError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            bound_socket("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()


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
