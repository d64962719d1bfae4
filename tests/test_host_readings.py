"""productions.lib.host against the real /proc of this machine: the host's CPU and memory and this process's
own share, in sane ranges, and moving when this process burns CPU or takes memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from productions.lib.host import HostSampler, process_ticks, read_host, usage

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")

MIB = 1024**2


def burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(1000))


def test_a_reading_of_the_real_proc_is_sane():
    reading = read_host()
    assert reading is not None
    assert 1 <= reading.cpus <= (os.cpu_count() or 1)
    assert 0 < reading.cpu_busy < reading.cpu_total
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert abs(reading.memory_total - physical) < 0.01 * physical  # MemTotal is the RAM the kernel manages
    assert 0 < reading.memory_available < reading.memory_total
    assert 10 * MIB < reading.process_rss < reading.memory_total  # a Python with Django loaded
    assert reading.process_cpu > 0
    assert all(abs(ours - theirs) < 1.0 for ours, theirs in zip(reading.load, os.getloadavg(), strict=True))


def test_burning_cpu_shows_in_the_usage():
    before = read_host()
    burn(0.5)
    after = read_host()
    found = usage(before, after)
    # This process burnt about one CPU of the host for the whole interval (less when other work takes turns).
    assert 100 / after.cpus * 0.2 < found["process_cpu_percent"] <= 100
    assert found["process_cpu_percent"] <= found["cpu_percent"] + 2  # the host's busy time includes ours
    assert 0 < found["memory_used"] < found["memory_total"] == after.memory_total
    assert found["load"] == list(after.load) and found["cpus"] == after.cpus


TAKE_64_MIB = """
from productions.lib.host import read_host
before = read_host()
ballast = bytearray(64 * 1024 ** 2)
for i in range(0, len(ballast), 4096):  # zero-filled pages are resident only once written: touch every page
    ballast[i] = 1
print(read_host().process_rss - before.process_rss)
"""


def test_taking_memory_shows_in_the_processs_rss():
    """In a fresh process: a long test run's own RSS also moves with whatever it frees meanwhile (seen: +31 MB
    for 64 MiB taken, late in the whole suite)."""
    done = subprocess.run([sys.executable, "-c", TAKE_64_MIB], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert int(done.stdout) > 60 * MIB


def test_the_sampler_gives_usage_since_its_last_call_and_none_without_proc(tmp_path):
    sampler = HostSampler(first_wait_s=0.2)
    first = sampler.sample()  # two readings 0.2 s apart
    assert first is not None and 0 <= first["cpu_percent"] <= 100 and 0 <= first["process_cpu_percent"] <= 100
    burn(0.3)
    second = sampler.sample()
    assert second["process_cpu_percent"] > 0
    assert HostSampler(proc=tmp_path / "none").sample() is None  # no /proc (not Linux): nothing made up


def test_a_command_name_with_spaces_and_parentheses_is_parsed():
    fields = " ".join(str(n) for n in range(3, 53))  # fields 3.. of /proc/PID/stat: utime is 14, stime 15
    assert process_ticks(f"42 (a (b) c) {fields}") == 14 + 15
