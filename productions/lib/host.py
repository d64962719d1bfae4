"""The host's CPU and memory and one process's own share of them, read from Linux's /proc (no psutil).

A reading is counters at one moment (CPU time in clock ticks, memory in bytes, the load average); CPU
percentages need two readings: `usage(before, after)`. `HostSampler` keeps the last reading so each call
gives the usage since the previous one (the monitor's heartbeat calls it once a beat). Where there is no
/proc (not Linux), `read_host` returns None and nothing is made up."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class HostReading:
    cpu_busy: int  # clock ticks all CPUs spent not idle (iowait counts as idle), since boot
    cpu_total: int  # all CPUs' clock ticks since boot
    process_cpu: int  # the process's own user + system ticks (its threads included, its children not)
    load: tuple[float, float, float]  # 1, 5 and 15 minute load averages
    cpus: int  # CPUs the kernel counts in /proc/stat
    memory_total: int  # bytes
    memory_available: int  # bytes the kernel could give without swapping (MemAvailable)
    process_rss: int  # bytes of the process resident in memory


def cpu_counters(text: str) -> tuple[int, int, int]:
    """(busy ticks, total ticks, CPU count) from /proc/stat's text."""
    lines = text.splitlines()
    fields = [int(v) for v in lines[0].split()[1:]]  # "cpu user nice system idle iowait irq softirq steal ..."
    fields = fields[:8]  # guest and guest_nice are already counted in user and nice
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return sum(fields) - idle, sum(fields), max(cpus, 1)


def memory_counters(text: str) -> tuple[int, int]:
    """(MemTotal, MemAvailable) in bytes from /proc/meminfo's text."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    total = values["MemTotal"]
    available = values.get("MemAvailable", values.get("MemFree", 0) + values.get("Cached", 0))
    return total, available


def process_ticks(text: str) -> int:
    """utime + stime from /proc/PID/stat's text (the command name may hold spaces and parentheses)."""
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of the whole line


def read_host(pid: int | None = None, proc: Path = PROC) -> HostReading | None:
    """The counters now, for process `pid` (this one by default); None where /proc cannot be read."""
    pid = os.getpid() if pid is None else pid
    try:
        busy, total, cpus = cpu_counters((proc / "stat").read_text())
        memory_total, available = memory_counters((proc / "meminfo").read_text())
        load = tuple(float(v) for v in (proc / "loadavg").read_text().split()[:3])
        ticks = process_ticks((proc / str(pid) / "stat").read_text())
        resident_pages = int((proc / str(pid) / "statm").read_text().split()[1])
    except (OSError, ValueError, IndexError, KeyError):
        return None
    return HostReading(cpu_busy=busy, cpu_total=total, process_cpu=ticks, load=load, cpus=cpus,  # type: ignore[arg-type]
                       memory_total=memory_total, memory_available=available,
                       process_rss=resident_pages * os.sysconf("SC_PAGE_SIZE"))


def usage(before: HostReading, after: HostReading) -> dict:
    """What the monitor shows: CPU busy % of the whole host and the process's share of the whole host (both
    0-100, over the time between the readings; None when no tick passed), the load averages, memory."""
    elapsed = after.cpu_total - before.cpu_total

    def percent(ticks: int) -> float | None:
        return round(min(max(100.0 * ticks / elapsed, 0.0), 100.0), 1) if elapsed > 0 else None

    return {"cpu_percent": percent(after.cpu_busy - before.cpu_busy),
            "process_cpu_percent": percent(after.process_cpu - before.process_cpu),
            "load": list(after.load), "cpus": after.cpus,
            "memory_total": after.memory_total, "memory_used": after.memory_total - after.memory_available,
            "process_rss": after.process_rss}


class HostSampler:
    """Usage since the previous call; the first call waits `first_wait_s` between two readings."""

    def __init__(self, pid: int | None = None, proc: Path = PROC, first_wait_s: float = 0.2) -> None:
        self.pid, self.proc, self.first_wait_s = pid, proc, first_wait_s
        self.last: HostReading | None = None

    def sample(self) -> dict | None:
        if self.last is None:
            self.last = read_host(self.pid, self.proc)
            if self.last is None:
                return None
            time.sleep(self.first_wait_s)
        now = read_host(self.pid, self.proc)
        if now is None:
            return None
        before, self.last = self.last, now
        return usage(before, now)
