// Live episode page: a WebSocket pushes snapshots (full state from the database) and progress events.
// Progress, ETA and preview frames are updated in place; a section whose fingerprint (data-fp) differs from
// the snapshot's is fetched again as server-rendered HTML and swapped in, unless the producer is using it
// (typing a rejection, playing a video), in which case the swap waits. After a dropped connection the page
// reconnects by itself and the server's first message is a full snapshot, so nothing is missed.
(function () {
  "use strict";
  const root = document.getElementById("episode-live");
  if (!root || !("WebSocket" in window)) return;
  const indicator = document.getElementById("live-indicator");
  const RUNNING = ["generating", "post"];
  clearRenderFlashes(root.dataset.active !== "false"); // reloaded after the render ended
  let state = null;
  let retries = 0;
  let fetching = false;
  let fetchAgain = false;
  let socket = null;

  function show(mode, label) {
    if (!indicator) return;
    indicator.dataset.state = mode;
    indicator.textContent = label;
  }

  function setText(el, value) {
    if (el && el.textContent !== value) el.textContent = value;
  }

  function eta(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 120) return "about " + Math.max(1, Math.round(seconds)) + " s left";
    return "about " + Math.round(seconds / 60) + " min left";
  }

  function card(index) {
    return document.getElementById("segment-" + index);
  }

  function setPreview(el, url) {
    const img = el.querySelector("img.preview");
    if (!img || !url || img.getAttribute("src") === url) return;
    img.src = url;
    img.alt = "preview of segment " + el.dataset.index;
    img.hidden = false;
    const placeholder = el.querySelector(".placeholder");
    if (placeholder) placeholder.remove();
  }

  // A section the producer is using is not replaced under their hands.
  function busy(el) {
    const active = document.activeElement;
    if (active && active !== document.body && el.contains(active) && /^(TEXTAREA|INPUT|SELECT)$/.test(active.tagName)) {
      return true;
    }
    if (el.querySelector("details.reject[open], details.approve-all[open]")) return true;
    for (const area of el.querySelectorAll("textarea")) {
      if (area.value !== area.defaultValue) return true;
    }
    for (const video of el.querySelectorAll("video")) {
      if (!video.paused && !video.ended) return true;
    }
    return false;
  }

  function swap(doc) {
    let deferred = false;
    const swapped = [];
    for (const fresh of doc.querySelectorAll("[data-fp][id]")) {
      if (swapped.some((outer) => outer.contains(fresh))) continue;
      const current = document.getElementById(fresh.id);
      if (!current || current.dataset.fp === fresh.dataset.fp) continue;
      if (busy(current)) {
        deferred = true;
        continue;
      }
      current.replaceWith(document.importNode(fresh, true));
      swapped.push(fresh);
    }
    if (deferred) setTimeout(refresh, 2000);
  }

  function refresh() {
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    fetch(root.dataset.liveUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => {
        if (response.redirected && /\/login\//.test(response.url)) {
          window.location.reload();
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then((html) => {
        if (html) swap(new DOMParser().parseFromString(html, "text/html"));
      })
      .catch(() => {})
      .finally(() => {
        fetching = false;
        if (fetchAgain) {
          fetchAgain = false;
          refresh();
        }
      });
  }

  function outdated(s) {
    const fp = (id) => {
      const el = document.getElementById(id);
      return el ? el.dataset.fp : null;
    };
    if (fp("episode-head") !== s.head_fp || fp("final") !== s.final_fp) return true;
    if (fp("segments") !== "n" + s.segments.length) return true;
    return s.segments.some((seg) => {
      const el = card(seg.index);
      return !el || el.dataset.fp !== seg.fp;
    });
  }

  // A flash about a render ("Render queued.") goes when the render is no longer under way.
  function clearRenderFlashes(active) {
    if (active) return;
    for (const flash of document.querySelectorAll(".flash.render-state")) flash.remove();
  }

  function applySnapshot(s) {
    state = s;
    root.dataset.active = s.active ? "true" : "false";
    clearRenderFlashes(s.active);
    document.dispatchEvent(new CustomEvent("tower:episode-status", { detail: s.status })); // the bell (bell.js)
    const status = document.getElementById("episode-status");
    if (status) {
      setText(status, s.status_label);
      status.className = "status " + s.status;
    }
    setText(document.getElementById("episode-stage"), s.stage || "");
    const overall = document.getElementById("episode-progress");
    if (overall) overall.value = s.progress;
    setText(document.getElementById("episode-eta"), s.active ? eta(s.eta_s) : "");
    setText(document.getElementById("episode-eta-stitch"), s.active && s.eta_s && s.stitch_s
      ? "(the stitch included: " + eta(s.stitch_s).replace(" left", "") + ")" : "");
    for (const seg of s.segments) {
      const el = card(seg.index);
      if (!el) continue;
      const bar = el.querySelector("progress.seg-progress");
      if (bar) bar.value = seg.progress;
      setText(el.querySelector(".eta"), RUNNING.includes(seg.status) ? eta(seg.eta_s) : "");
      setText(el.querySelector(".seg-status"), seg.status_label);
      if (seg.preview_url) setPreview(el, seg.preview_url);
    }
    if (outdated(s)) refresh();
  }

  function applyProgress(event) {
    if (!state) return;
    const seg = state.segments.find((x) => x.index === event.segment);
    // Only a running segment moves: a late event never drags a finished one back.
    if (!seg || !RUNNING.includes(seg.status)) return;
    seg.progress = event.progress;
    const el = card(event.segment);
    if (!el) return;
    const bar = el.querySelector("progress.seg-progress");
    if (bar) bar.value = event.progress;
    setText(el.querySelector(".eta"), eta(event.eta_s));
    if (event.preview_url) setPreview(el, event.preview_url);
    const overall = document.getElementById("episode-progress");
    if (overall && state.segments.length) {
      const done = state.segments.reduce((sum, x) => sum + x.progress, 0) / state.segments.length;
      overall.value = Math.round(done * 0.9 * 1000) / 1000;
    }
    if (event.episode_eta_s !== undefined) setText(document.getElementById("episode-eta"), eta(event.episode_eta_s));
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath);
    show("connecting", retries ? "reconnecting…" : "connecting…");
    socket.onopen = () => {
      retries = 0;
      show("live", "live");
    };
    socket.onmessage = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      if (data.type === "snapshot") applySnapshot(data.state);
      else if (data.type === "progress") applyProgress(data);
    };
    socket.onclose = (closed) => {
      socket = null;
      if (closed.code === 4401) {
        show("off", "signed out");
        window.location.reload(); // the login page, then back here
        return;
      }
      if (closed.code === 4403 || closed.code === 4404) {
        show("off", "no access");
        return;
      }
      retries += 1;
      const delay = Math.min(10000, 500 * 2 ** Math.min(retries - 1, 5)) * (0.75 + Math.random() / 2);
      show("reconnecting", "reconnecting…");
      setTimeout(connect, delay);
    };
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "snapshot" }));
    }
  });
  connect();
})();
