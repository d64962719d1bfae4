// Staff monitor: tables and last-hour charts (inline SVG), kept live by worker heartbeats over a WebSocket.
(function () {
  "use strict";
  const root = document.getElementById("monitor");
  if (!root) return;
  const SVG = "http://www.w3.org/2000/svg";
  const HOUR = 3600;
  const COLORS = ["#7aa2ff", "#4cc38a", "#f5b94a", "#ff6b6b", "#c792ea", "#5fd7d7", "#e6e6e6"];
  const indicator = document.getElementById("live-indicator");
  const initial = JSON.parse(document.getElementById("monitor-state").textContent);
  let history = initial.history || [];
  let retries = 0;

  function show(mode, label) {
    indicator.dataset.state = mode;
    indicator.textContent = label;
  }

  function cell(row, value) {
    const td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "" : String(value);
    row.appendChild(td);
    return td;
  }

  function fill(id, rows, empty, columns) {
    const body = document.getElementById(id);
    body.replaceChildren();
    if (!rows.length) {
      const tr = body.insertRow();
      const td = cell(tr, empty);
      td.colSpan = columns;
      td.className = "hint";
      return;
    }
    for (const values of rows) {
      const tr = body.insertRow();
      for (const value of values) {
        if (value instanceof Node) tr.insertCell().appendChild(value);
        else cell(tr, value);
      }
    }
  }

  function mib(bytes) {
    return bytes === null || bytes === undefined ? null : Math.round(bytes / 1048576);
  }

  function pct(value) {
    return (value === null || value === undefined ? "…" : value) + " %";
  }

  function usage(u) {
    if (!u) return ["not reported (no /proc on its host)", "", "", ""];
    return [pct(u.cpu_percent) + " / " + pct(u.process_cpu_percent), u.load[0] + " (" + u.cpus + " CPUs)",
      u.memory_used_mib + " / " + u.memory_total_mib + " MiB (" + u.memory_pct + " %)", u.process_rss_mib + " MiB"];
  }

  function ago(ts) {
    return Math.max(0, Math.round(Date.now() / 1000 - ts)) + " s ago";
  }

  function renderState(s) {
    document.getElementById("huey-queue").textContent = s.queue_length === null ? "unknown" : s.queue_length;
    fill("workers", s.workers.map((w) => [w.worker_id, w.live ? "live" : w.stopped ? "stopped" : "silent",
      ago(w.seen_at), w.queue_length, ...usage(w.usage)]), "No worker has reported in the last hour.", 8);
    fill("gpus", s.gpus.map((g) => [g.name, g.server, g.healthy ? "up" : "down",
      g.vram_total ? mib(g.vram_used) + " / " + mib(g.vram_total) + " MiB" : "unknown",
      g.utilization === null || g.utilization === undefined ? "not reported" : g.utilization + " %",
      g.queue, g.jobs_done === undefined ? "" : g.jobs_done + " / " + g.jobs_failed, g.previews || ""]),
      "No GPU reported (no NVML on the workers and no ComfyUI server configured).", 8);
    fill("running", s.running.map((r) => {
      const link = document.createElement("a");
      link.href = "/episodes/" + r.episode + "/";
      link.textContent = r.project + " / " + r.title;
      return [link, "#" + r.segment, r.status, Math.round(r.progress * 100) + " %", r.server || r.backend];
    }), "Nothing is rendering.", 5);
    const t = s.throughput;
    document.getElementById("throughput").textContent = t.segments_last_hour + " segments · " +
      t.delivered_frames_per_min + " delivered frames/min · " + t.episodes_finished_last_hour + " episodes finished";
    bars(document.getElementById("chart-throughput"), t.segments_per_5min);
  }

  function bars(svg, values) {
    svg.replaceChildren();
    const max = Math.max(1, ...values);
    values.forEach((v, i) => {
      const h = (v / max) * 120;
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", i * 33 + 2);
      rect.setAttribute("y", 130 - h);
      rect.setAttribute("width", 29);
      rect.setAttribute("height", h);
      rect.setAttribute("fill", "#7aa2ff");
      svg.appendChild(rect);
    });
    label(svg, 4, 12, "max " + max + " segments / 5 min");
  }

  function label(svg, x, y, text) {
    const el = document.createElementNS(SVG, "text");
    el.setAttribute("x", x);
    el.setAttribute("y", y);
    el.textContent = text;
    svg.appendChild(el);
  }

  // fields: [[point field, series suffix], ...]: one line per series name and field.
  function lines(svgId, legendId, fields, fixedMax, filter) {
    const svg = document.getElementById(svgId);
    const legend = document.getElementById(legendId);
    svg.replaceChildren();
    legend.replaceChildren();
    const now = Date.now() / 1000;
    const series = new Map();
    for (const p of history) {
      if (!filter(p)) continue;
      for (const [field, suffix] of fields) {
        if (p[field] === null || p[field] === undefined) continue;
        const key = p.name + suffix;
        if (!series.has(key)) series.set(key, []);
        series.get(key).push({t: p.t, v: p[field]});
      }
    }
    let max = fixedMax;
    if (!max) max = Math.max(1, ...[...series.values()].flat().map((p) => p.v));
    let i = 0;
    for (const [name, points] of series) {
      const color = COLORS[i++ % COLORS.length];
      const line = document.createElementNS(SVG, "polyline");
      const x = (p) => ((400 * (p.t - (now - HOUR))) / HOUR).toFixed(1);
      const y = (p) => (135 - (125 * p.v) / max).toFixed(1);
      line.setAttribute("stroke", color);
      line.setAttribute("points", points.map((p) => x(p) + "," + y(p)).join(" "));
      svg.appendChild(line);
      const last = points[points.length - 1]; // the latest reading, visible even before a line has length
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", x(last));
      dot.setAttribute("cy", y(last));
      dot.setAttribute("r", 3);
      dot.setAttribute("fill", color);
      svg.appendChild(dot);
      const key = document.createElement("span");
      key.style.color = color;
      key.textContent = "■ " + name;
      legend.appendChild(key);
    }
    label(svg, 4, 12, String(max));
    label(svg, 4, 136, "-60 min");
    label(svg, 370, 136, "now");
    if (!series.size) label(svg, 150, 75, "no readings");
  }

  function charts() {
    const cutoff = Date.now() / 1000 - HOUR;
    history = history.filter((p) => p.t >= cutoff);
    const host = (p) => p.host === true;
    lines("chart-cpu", "legend-cpu", [["cpu", " (host)"], ["proc_cpu", " (worker)"]], 100, host);
    lines("chart-memory", "legend-memory", [["mem_pct", " (host)"], ["rss_pct", " (worker)"]], 100, host);
    lines("chart-vram", "legend-vram", [["vram_pct", ""]], 100, (p) => p.name !== "Huey queue" && !host(p));
    lines("chart-util", "legend-util", [["util", ""]], 100, (p) => p.name !== "Huey queue" && !host(p));
    lines("chart-queue", "legend-queue", [["queue", ""]], 0, () => true);
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath);
    show("connecting", retries ? "reconnecting…" : "connecting…");
    socket.onopen = () => {
      retries = 0;
      show("live", "live");
    };
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "snapshot") {
        history = data.state.history || [];
        renderState(data.state);
      } else if (data.type === "heartbeat") {
        history.push(...data.samples);
        renderState(data.state);
      }
      charts();
    };
    socket.onclose = (closed) => {
      if (closed.code === 4401 || closed.code === 4403) {
        show("off", closed.code === 4401 ? "signed out" : "staff only");
        return;
      }
      retries += 1;
      show("reconnecting", "reconnecting…");
      setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(retries - 1, 5)));
    };
  }

  renderState(initial);
  charts();
  if ("WebSocket" in window) connect();
})();
