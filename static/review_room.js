// The review room: notes on frames, a timeline of segments and notes, drawing on the paused frame, frame
// stepping from the keyboard, and the synchronised comparison of two attempts. Notes go through the API
// (/api/episodes/{id}/notes, /api/notes/{id}); the server checks every value.
(function () {
  "use strict";

  const EPS = 1e-3; // a time exactly on a frame boundary belongs to that frame
  const frameAt = (video, fps) => Math.max(0, Math.floor(video.currentTime * fps + EPS));
  const clamp = (n, lo, hi) => Math.min(hi, Math.max(lo, n));
  // Where a note sits on this room's clip: a segment's note listed under the final video has its final frames.
  const firstOf = (note) => (note.final_start ?? note.frame_start);
  const lastOf = (note) => (note.final_end ?? note.frame_end);
  let active = null; // the room (or comparison) the keyboard drives: the last one used, else the first

  function csrf(root) {
    const input = root.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- one clip's room ------------------------------------------------------------------------------
  function Room(root) {
    const video = root.querySelector("video.room-video");
    const canvas = root.querySelector("canvas.room-canvas");
    const ctx = canvas.getContext("2d");
    const fps = Number(root.dataset.fps);
    const frames = Number(root.dataset.frames);
    const timeline = root.querySelector(".timeline");
    const tlFrames = Number(timeline.dataset.frames) || frames;
    const form = root.querySelector("form.note-form");
    const list = root.querySelector(".note-list");
    const errorBox = root.querySelector(".note-error");
    const frameLabel = root.querySelector(".room-frame");
    const playButton = root.querySelector(".room-play");
    const drawButton = root.querySelector(".room-draw");
    let notes = [];
    let strokes = []; // the drawing being made (0..1 coordinates)
    let shown = null; // the selected note (its drawing is shown while its frames are on screen)
    let drawing = false;
    let stroke = null;

    const self = {
      root,
      frame: () => frameAt(video, fps),
      seekFrame(n) {
        n = clamp(n, 0, frames - 1);
        video.currentTime = n / fps;
        update(n);
      },
      step(delta) {
        if (!video.paused) video.pause();
        self.seekFrame(self.frame() + delta);
      },
      toggle() {
        if (video.paused) video.play(); else video.pause();
      },
    };

    function update(n) {
      if (n === undefined) n = self.frame();
      frameLabel.textContent = `frame ${n} / ${frames}`;
      const head = timeline.querySelector(".tl-playhead");
      head.style.left = `${(100 * n) / Math.max(1, tlFrames)}%`;
      playButton.textContent = video.paused ? "Play" : "Pause";
      if (shown && (n < firstOf(shown) || n > lastOf(shown) || !video.paused)) {
        shown = null;
        markSelected();
      }
      paint();
    }

    // The canvas covers the picture; its own pixels follow the element's size.
    function fit() {
      const w = video.clientWidth, h = video.clientHeight;
      if (!w || !h) return;
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
      }
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
      paint();
    }

    function drawStrokes(list) {
      for (const s of list) {
        ctx.strokeStyle = s.color;
        ctx.fillStyle = s.color;
        ctx.lineWidth = Math.max(1, s.width * canvas.width);
        ctx.lineCap = "round";
        ctx.lineJoin = "round";
        ctx.beginPath();
        s.points.forEach(([x, y], i) => {
          const px = x * canvas.width, py = y * canvas.height;
          if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
        });
        if (s.points.length === 1) {
          ctx.arc(s.points[0][0] * canvas.width, s.points[0][1] * canvas.height, ctx.lineWidth / 2, 0, 2 * Math.PI);
          ctx.fill();
        } else {
          ctx.stroke();
        }
      }
    }

    function paint() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      if (shown) drawStrokes(shown.drawing || []);
      drawStrokes(strokes);
    }

    function point(event) {
      const box = canvas.getBoundingClientRect();
      return [clamp((event.clientX - box.left) / box.width, 0, 1), clamp((event.clientY - box.top) / box.height, 0, 1)];
    }

    canvas.addEventListener("pointerdown", (event) => {
      if (!drawing) return;
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      stroke = { color: "#ff3b30", width: 0.006, points: [point(event)] };
      strokes.push(stroke);
      paint();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!stroke) return;
      stroke.points.push(point(event));
      paint();
    });
    const endStroke = () => { stroke = null; };
    canvas.addEventListener("pointerup", endStroke);
    canvas.addEventListener("pointercancel", endStroke);

    drawButton.addEventListener("click", () => {
      drawing = !drawing;
      if (drawing) {
        video.pause();
        const n = self.frame();
        form.frame_start.value = n;
        if (Number(form.frame_end.value) < n) form.frame_end.value = n;
      }
      root.classList.toggle("drawing", drawing);
      drawButton.setAttribute("aria-pressed", String(drawing));
      drawButton.textContent = drawing ? "Drawing (click to stop)" : "Draw";
    });
    root.querySelector(".room-clear").addEventListener("click", () => { strokes = []; paint(); });
    playButton.addEventListener("click", () => self.toggle());
    root.querySelector(".room-prev").addEventListener("click", () => self.step(-1));
    root.querySelector(".room-next").addEventListener("click", () => self.step(1));
    root.querySelector(".note-here-start").addEventListener("click", () => {
      form.frame_start.value = self.frame();
      if (Number(form.frame_end.value) < self.frame()) form.frame_end.value = self.frame();
    });
    root.querySelector(".note-here-end").addEventListener("click", () => { form.frame_end.value = self.frame(); });

    for (const name of ["timeupdate", "seeked", "play", "pause", "loadedmetadata"]) {
      video.addEventListener(name, () => update());
    }
    video.addEventListener("play", () => {
      if (drawing) drawButton.click();
    });
    video.addEventListener("loadedmetadata", fit);
    window.addEventListener("resize", fit);
    new ResizeObserver(fit).observe(video);

    // The timeline: a click on a segment or a note seeks there; elsewhere, to the frame under the pointer.
    timeline.addEventListener("click", (event) => {
      const marker = event.target.closest(".tl-note");
      if (marker) {
        select(notes.find((n) => String(n.id) === marker.dataset.note));
        return;
      }
      const seg = event.target.closest(".tl-seg");
      if (seg) {
        video.pause();
        self.seekFrame(Number(seg.dataset.start));
        return;
      }
      const box = timeline.getBoundingClientRect();
      video.pause();
      self.seekFrame(Math.floor(((event.clientX - box.left) / box.width) * tlFrames));
    });

    function select(note) {
      if (!note) return;
      video.pause();
      strokes = [];
      self.seekFrame(firstOf(note));
      shown = note;
      markSelected();
      paint();
    }

    function markSelected() {
      for (const node of root.querySelectorAll("[data-note]")) {
        node.classList.toggle("selected", Boolean(shown) && node.dataset.note === String(shown.id));
      }
    }

    function render() {
      const layer = timeline.querySelector(".tl-notes");
      layer.replaceChildren();
      list.replaceChildren();
      for (const note of notes) {
        const left = (100 * firstOf(note)) / Math.max(1, tlFrames);
        const width = (100 * (lastOf(note) - firstOf(note) + 1)) / Math.max(1, tlFrames);
        const where = note.final_start !== null && note.final_start !== undefined
          ? `segment ${note.segment}, attempt ${note.attempt}: ` : "";
        const marker = el("button", {
          type: "button", class: `tl-note${note.resolved ? " resolved" : ""}`, "data-note": note.id,
          style: `left: ${left}%; width: max(6px, ${width}%)`,
          title: `${where}${note.author || "someone"}, frames ${firstOf(note)}–${lastOf(note)}: ${note.text}`,
        });
        layer.append(marker);

        const item = el("li", { class: `note${note.resolved ? " resolved" : ""}`, "data-note": note.id });
        const go = el("button", { type: "button", class: "link note-go" },
          where + (firstOf(note) === lastOf(note) ? `frame ${firstOf(note)}` : `frames ${firstOf(note)}–${lastOf(note)}`));
        go.addEventListener("click", () => select(note));
        item.append(go, " ", el("b", {}, note.author || "someone"), note.drawing.length ? " ✎ " : " ");
        item.append(el("span", { class: "note-text" }, note.text));
        if (note.resolved) item.append(" ", el("span", { class: "badge approved" }, "resolved"));
        if (note.can_change) {
          const resolve = el("button", { type: "button", class: "link note-resolve" }, note.resolved ? "Reopen" : "Resolve");
          resolve.addEventListener("click", () => change(note, "PATCH", { resolved: !note.resolved }));
          const remove = el("button", { type: "button", class: "link note-delete" }, "Delete");
          remove.addEventListener("click", () => {
            if (window.confirm("Delete this note?")) change(note, "DELETE");
          });
          item.append(" · ", resolve, " · ", remove);
        }
        list.append(item);
      }
      markSelected();
    }

    async function call(url, method, body) {
      const response = await fetch(url, {
        method, credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(root), Accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status === 204) return null;
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        const errors = Object.entries(data.errors || {}).map(([field, m]) => `${field}: ${m.join(" ")}`);
        throw new Error(errors.length ? errors.join(" ") : data.detail || `Refused (${response.status}).`);
      }
      return data;
    }

    async function load() {
      try {
        notes = await call(root.dataset.notesUrl, "GET");
        render();
      } catch (error) {
        errorBox.textContent = error.message;
      }
    }

    async function change(note, method, body) {
      errorBox.textContent = "";
      try {
        await call(`${root.dataset.noteUrl}${note.id}`, method, body);
        await load();
      } catch (error) {
        errorBox.textContent = error.message;
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      errorBox.textContent = "";
      const body = {
        text: form.text.value,
        frame_start: Number(form.frame_start.value),
        frame_end: Number(form.frame_end.value),
        drawing: strokes,
      };
      if (root.dataset.segment !== "") {
        body.segment = Number(root.dataset.segment);
        body.attempt = Number(root.dataset.attempt);
      }
      try {
        const note = await call(root.dataset.postUrl, "POST", body);
        form.text.value = "";
        strokes = [];
        if (drawing) drawButton.click();
        await load();
        select(notes.find((n) => n.id === note.id));
      } catch (error) {
        errorBox.textContent = error.message;
      }
    });

    root.addEventListener("pointerdown", () => { active = self; });
    root.addEventListener("focusin", () => { active = self; });
    fit();
    update(0);
    load();
    return self;
  }

  // --- two attempts, one set of controls ------------------------------------------------------------
  function Compare(root) {
    const a = root.querySelector("#compare-a");
    const b = root.querySelector("#compare-b");
    const fps = Number(root.dataset.fps);
    const frames = Number(root.dataset.frames);
    const seek = root.querySelector(".compare-seek");
    const label = root.querySelector(".room-frame");
    const play = root.querySelector(".compare-play");
    const slider = root.querySelector(".wipe-slider");
    const both = [a, b];

    const self = {
      root,
      frame: () => frameAt(a, fps),
      seekFrame(n) {
        n = clamp(n, 0, frames - 1);
        for (const v of both) v.currentTime = n / fps;
        update();
      },
      step(delta) {
        self.pause();
        self.seekFrame(self.frame() + delta);
      },
      pause() {
        for (const v of both) v.pause();
        b.currentTime = a.currentTime;
      },
      toggle() {
        if (a.paused) {
          if (a.ended || self.frame() >= frames - 1) self.seekFrame(0);
          b.currentTime = a.currentTime;
          Promise.all(both.map((v) => v.play())).catch(() => {});
          requestAnimationFrame(follow);
        } else {
          self.pause();
        }
        update();
      },
    };

    // B follows A: A is the clock; B is put back on it when it drifts by half a frame.
    function follow() {
      if (a.paused) return;
      if (Math.abs(b.currentTime - a.currentTime) > 0.5 / fps && !b.seeking) b.currentTime = a.currentTime;
      if (b.paused && !a.ended && !b.ended) b.play().catch(() => {});
      update();
      requestAnimationFrame(follow);
    }

    function update() {
      const n = self.frame();
      label.textContent = `frame ${n} / ${frames}`;
      seek.value = n;
      play.textContent = a.paused ? "Play" : "Pause";
    }

    a.addEventListener("ended", () => { b.pause(); update(); });
    a.addEventListener("seeked", update);
    play.addEventListener("click", () => self.toggle());
    root.querySelector(".compare-prev").addEventListener("click", () => self.step(-1));
    root.querySelector(".compare-next").addEventListener("click", () => self.step(1));
    seek.addEventListener("input", () => { self.pause(); self.seekFrame(Number(seek.value)); });
    for (const radio of root.querySelectorAll("input[name=mode]")) {
      radio.addEventListener("change", () => { root.dataset.mode = radio.value; });
    }
    const wipe = () => root.style.setProperty("--wipe", `${slider.value}%`);
    slider.addEventListener("input", wipe);
    wipe();
    root.addEventListener("pointerdown", () => { active = self; });
    update();
    return self;
  }

  // --- the keyboard ---------------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    if (!active || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "range") return;
    if (!document.body.contains(active.root)) { active = null; start(); if (!active) return; }
    if (event.key === " " || event.key === "Spacebar") {
      active.toggle();
    } else if (event.key === "ArrowLeft" || event.key === ",") {
      active.step(-1);
    } else if (event.key === "ArrowRight" || event.key === ".") {
      active.step(1);
    } else {
      return;
    }
    event.preventDefault();
    if (target && target.tagName === "BUTTON") target.blur(); // no second toggle from the focused button's own click
  });

  // Rooms may arrive later: the episode page swaps in a new final video's section (episode.js).
  function start() {
    for (const root of document.querySelectorAll(".review-room:not([data-ready])")) {
      root.dataset.ready = "1";
      const room = Room(root);
      if (!active || !document.body.contains(active.root)) active = room;
    }
    const compare = document.querySelector("#compare:not([data-ready])");
    if (compare) {
      compare.dataset.ready = "1";
      active = Compare(compare);
    }
  }
  start();
  new MutationObserver(start).observe(document.body, { childList: true, subtree: true });
})();
