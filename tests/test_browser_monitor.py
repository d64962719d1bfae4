"""The monitor in a browser on a machine without a GPU: a worker's host readings draw the CPU and memory charts
(host and worker lines) instead of "no readings", and the gates table shows its marks."""

from __future__ import annotations

import sys

import pytest

from productions import monitor
from tests.test_browser import browser, page_for, shot, web  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")]


def test_the_cpu_and_memory_charts_draw_a_cpu_only_workers_readings(browser, web, users, settings):  # noqa: F811
    settings.TOWER_COMFYUI_URLS = []
    beat = monitor.Heartbeat(interval_s=5)
    beat.beat()
    beat.beat()
    page = page_for(browser, web, users["staff"])
    page.goto(f"{web.url}/monitor/")
    for chart in ("cpu", "memory"):
        page.wait_for_function(f"document.querySelectorAll('#chart-{chart} polyline').length === 2")
        legend = page.inner_text(f"#legend-{chart}")
        assert f"{beat.worker_id} (host)" in legend and f"{beat.worker_id} (worker)" in legend
        assert "no readings" not in page.text_content(f"#chart-{chart}")
    assert "no readings" in page.text_content("#chart-util")  # no GPU: said, not drawn
    assert "MiB" in page.inner_text("#workers")
    assert "no GPU readings" in page.inner_text("#gates")
    shot(page, "monitor-cpu-only")
    page.context.close()
