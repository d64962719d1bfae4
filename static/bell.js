// The bell in the header (base.html): its unread count, refreshed when a page learns that an episode's
// render ended (episode.js dispatches "tower:episode-status" with each snapshot's status).
(() => {
  const bell = document.getElementById("bell");
  if (!bell) return;
  const count = bell.querySelector(".bell-count");
  const ENDED = ["review", "delivered", "failed"];
  let last = null;

  async function refresh() {
    try {
      const response = await fetch("/api/notifications/unread", { credentials: "same-origin" });
      if (!response.ok) return;
      const n = (await response.json()).unread;
      count.textContent = n > 99 ? "99+" : String(n);
      count.hidden = n === 0;
      bell.classList.toggle("unread", n > 0);
      bell.setAttribute("aria-label", `Notifications: ${n} unread`);
    } catch (err) {
      // offline for a moment: the next status change or page load shows the count
    }
  }

  document.addEventListener("tower:episode-status", (event) => {
    const status = event.detail;
    if (last !== null && status !== last && ENDED.includes(status)) refresh();
    last = status;
  });
  window.towerBell = { refresh };
})();
