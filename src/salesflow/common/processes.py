"""Small helpers for the servers salesflow starts as child processes (broker, dashboard)."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import time

from salesflow.errors import TransientError

PR_SET_PDEATHSIG = 1
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # looked up before any fork


def die_with_parent() -> None:
    """``preexec_fn`` of a child that must not outlive this process, even when it is SIGKILLed:
    Linux sends the child SIGTERM then (prctl PR_SET_PDEATHSIG, kept across exec). Start such
    children from the main thread: the signal follows the thread that forked, not the process."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_taken(host: str, port: int) -> bool:
    """Whether something listens on ``host:port`` (a socket in TIME_WAIT does not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, and SIGKILL if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float, name: str) -> None:
    """Return once 127.0.0.1:``port`` accepts connections; fail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TransientError(f"{name} exited with code {process.returncode} before it was ready")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TransientError(f"{name} not ready on port {port} after {timeout:.0f} s")
