"""The CLI's process asks Linux for small pages only (see salesflow.ops.memory)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from salesflow.ops.memory import small_pages_only
def thp():
    return [l.split()[1] for l in open('/proc/self/status') if l.startswith('THP_enabled')]
before = thp()
done = small_pages_only()
print(before, done, thp())
"""


@pytest.mark.skipif(
    not Path("/proc/self/status").exists() or "THP_enabled" not in Path("/proc/self/status").read_text(),
    reason="needs Linux with THP_enabled in /proc/self/status",
)
def test_small_pages_only_turns_transparent_huge_pages_off_for_the_process() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["True", "['0']"], out  # out[0]: as it was before
