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
