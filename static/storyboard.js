// The storyboard page: the total (against the target) follows the durations and joins as they are typed.
// Nothing here is needed to save: every form posts as it is.
(function () {
  const totals = document.getElementById("storyboard-totals");
  if (!totals) return;
  const fps = Number(totals.dataset.fps);
  const target = Number(totals.dataset.targetFrames);
  const targetS = Number(totals.dataset.targetS);
  const shots = () => Array.from(document.querySelectorAll("#storyboard article.shot"));
  function frames(shot) {
    const input = shot.querySelector("input[name=duration_s]");
    if (!input) return null;
    const seconds = Number(String(input.value).replace(",", "."));
    return Number.isFinite(seconds) && seconds > 0 ? Math.max(1, Math.round(seconds * fps)) : 0;
  }
  function overlap(shot, index) {
    const join = shot.querySelector("select[name=join]");
    if (!index || !join || (join.value !== "dissolve" && join.value !== "fade")) return 0;
    const n = Number(shot.querySelector("input[name=join_frames]").value);
    return n > 0 ? n : 12;
  }
  function recompute() {
    let total = 0;
    let editable = false;
    shots().forEach((shot, i) => {
      const f = frames(shot);
      if (f === null) return;
      editable = true;
      total += f - overlap(shot, i);
    });
    if (!editable) return;
    const seconds = total / fps;
    const ok = total >= target;
    totals.classList.toggle("pass", ok);
    totals.classList.toggle("fail", !ok);
    totals.querySelector(".total-s").textContent = `${+seconds.toFixed(2)} s`;
    const missing = target - total;
    totals.querySelector(".totals-message").textContent = ok
      ? `${+seconds.toFixed(3)} s of ${targetS} s: long enough (not saved yet).`
      : `${+seconds.toFixed(3)} s of ${targetS} s: ${+(missing / fps).toFixed(3)} s (${missing} frames) missing before it can render (not saved yet).`;
    totals.dataset.totalFrames = String(total);
  }
  document.addEventListener("input", (e) => {
    if (e.target.closest && e.target.closest("#storyboard")) recompute();
  });
  document.addEventListener("change", (e) => {
    if (e.target.closest && e.target.closest("#storyboard")) recompute();
  });
})();

// Keyframes appear by themselves: when the worker reports one (a "keyframe" event on the episode's socket, or
// every 3 s while one is being made, should the socket be down), the page's keyframe blocks and its action bar
// are fetched again and swapped in. The shots' forms are never replaced: nothing being typed is lost.
(function () {
  const board = document.getElementById("storyboard");
  if (!board) return;
  let refreshing = false;
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const response = await fetch(window.location.pathname, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      fresh.querySelectorAll("#storyboard article.shot").forEach((article) => {
        const here = board.querySelector(`article.shot[data-shot-id="${article.dataset.shotId}"] .shot-keyframe`);
        const there = article.querySelector(".shot-keyframe");
        if (here && there && here.outerHTML !== there.outerHTML) here.replaceWith(there);
      });
      const actions = document.getElementById("storyboard-actions");
      const freshActions = fresh.getElementById("storyboard-actions");
      if (actions && freshActions && actions.outerHTML !== freshActions.outerHTML) actions.replaceWith(freshActions);
    } finally {
      refreshing = false;
    }
  }
  const making = () => document.querySelector('.shot-keyframe[data-keyframe-status="making"]') !== null;
  setInterval(() => { if (making()) refresh(); }, 3000);
  if (!("WebSocket" in window)) return;
  const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  function connect() {
    const socket = new WebSocket(`${scheme}${window.location.host}/ws/episodes/${board.dataset.episode}/`);
    socket.addEventListener("message", (m) => {
      try { if (JSON.parse(m.data).type === "keyframe") refresh(); } catch (e) { /* not ours */ }
    });
    socket.addEventListener("close", (e) => { if (e.code < 4400 || e.code > 4404) setTimeout(connect, 3000); });
  }
  connect();
})();
