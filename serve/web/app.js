// rpscam live page: predictions arrive as server-sent events from /api/events,
// the picture is the MJPEG <img>; nothing here polls per frame.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const colors = { rock: "var(--rock)", paper: "var(--paper)", scissors: "var(--scissors)" };
  const barEls = new Map();
  let classesKey = "";

  function setStatus(ok, text) {
    const el = $("status");
    el.textContent = ok ? "live" : text;
    el.title = text;
    el.className = "pill " + (ok ? "pill-ok" : /waiting|connecting/.test(text) ? "pill-wait" : "pill-bad");
  }

  // names are the classes as shown (the server's display_classes: "no hand"
  // for the no-hand class "none"); bars stay keyed by the model's labels.
  function buildBars(classes, names) {
    const box = $("bars");
    box.replaceChildren();
    barEls.clear();
    for (const [i, c] of classes.entries()) {
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.dataset.label = c;
      bar.innerHTML = '<div class="row"><span class="name"></span><span class="pct">0%</span></div><div class="track"><div class="fill"></div></div>';
      bar.querySelector(".name").textContent = (names && names[i]) || c;
      bar.querySelector(".fill").style.background = colors[c] || "var(--other)";
      box.appendChild(bar);
      barEls.set(c, bar);
    }
    classesKey = classes.join("\u0000");
  }

  const fmt = (v, digits) => (v > 0 ? v.toFixed(digits) : "–");

  function showPrediction(p) {
    if (p.classes.join("\u0000") !== classesKey) buildBars(p.classes, p.display_classes);
    // The server says what to call the label (display) and whether it is a
    // hand at all (hand: false for the model's no-hand class).
    const label = p.display || p.label || "uncertain";
    const noHand = !!p.label && p.hand === false;
    const el = $("label");
    el.textContent = label;
    el.classList.toggle("uncertain", !!p.uncertain);
    el.classList.toggle("no-hand", noHand);
    const icon = $("label-icon");
    icon.textContent = p.uncertain || !p.label ? "?" : noHand ? "–" : label.charAt(0).toUpperCase();
    icon.style.background = (!p.uncertain && !noHand && colors[p.label]) || "var(--other)";
    $("confidence").textContent = (p.confidence * 100).toFixed(0) + "%";
    let top = "";
    let best = -1;
    for (const c of p.classes) {
      if (p.probabilities[c] > best) { best = p.probabilities[c]; top = c; }
    }
    for (const [c, bar] of barEls) {
      const v = p.probabilities[c] || 0;
      bar.querySelector(".fill").style.width = (v * 100).toFixed(1) + "%";
      bar.querySelector(".pct").textContent = (v * 100).toFixed(0) + "%";
      bar.classList.toggle("top", c === top);
    }
    $("fps").textContent = fmt(p.fps, 1);
    $("infer").textContent = fmt(p.infer_ms, 1);
    $("latency").textContent = fmt(p.latency_ms, 0);
    $("seq").textContent = p.seq;
  }

  function connectEvents() {
    const es = new EventSource("/api/events?max_rate=30");
    es.addEventListener("prediction", (e) => showPrediction(JSON.parse(e.data)));
    es.addEventListener("status", (e) => {
      const s = JSON.parse(e.data);
      setStatus(s.ok, s.status);
    });
    es.addEventListener("end", () => setStatus(false, "source ended"));
    es.onerror = () => setStatus(false, "connecting…"); // EventSource reconnects by itself
  }

  // The <img> stream ends when the server restarts; reload it until it is
  // back. A multipart image fires no load event per frame, so recovery is
  // seen by its natural size coming back.
  function watchStream() {
    const img = $("stream");
    const down = $("stream-down");
    let check = 0;
    img.addEventListener("error", () => {
      down.hidden = false;
      clearInterval(check);
      setTimeout(() => {
        img.src = "/stream.mjpg?t=" + Date.now();
        check = setInterval(() => {
          if (img.naturalWidth > 0) { down.hidden = true; clearInterval(check); }
        }, 250);
      }, 2000);
    });
  }

  let recStarted = 0;
  let recTimer = 0;
  function showRecording(r) {
    const btn = $("record");
    btn.disabled = !r.available;
    btn.classList.toggle("active", r.active);
    btn.lastChild.textContent = r.active ? "Stop recording" : "Record";
    $("rec-badge").hidden = !r.active;
    if (!r.available) {
      $("rec-msg").textContent = "recording off: start serve with --record-dir";
    } else if (r.active) {
      $("rec-msg").textContent = "recording to " + r.path;
    } else if (r.path) {
      $("rec-msg").textContent = "saved " + r.path + (r.frames != null ? " (" + r.frames + " frames)" : "");
    }
    clearInterval(recTimer);
    if (r.active) {
      recStarted = recStarted || Date.now();
      const tick = () => {
        const s = Math.floor((Date.now() - recStarted) / 1000);
        $("rec-time").textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      };
      tick();
      recTimer = setInterval(tick, 500);
    } else {
      recStarted = 0;
    }
  }

  async function recordRequest(body) {
    const res = await fetch("/api/record", {
      method: body ? "POST" : "GET",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json();
    if (!res.ok) throw new Error(data.error || res.statusText);
    return data;
  }

  $("record").addEventListener("click", async () => {
    const btn = $("record");
    btn.disabled = true;
    try {
      showRecording(await recordRequest({ action: btn.classList.contains("active") ? "stop" : "start" }));
    } catch (err) {
      $("rec-msg").textContent = err.message;
      showRecording(await recordRequest().catch(() => ({ available: true, active: false })));
    }
  });

  // Teach panel: hold a class's button to record samples from the live
  // frames, Train to fit the model to them (the server swaps it in), Reset
  // to go back to the shipped model. State comes from GET /api/teach, polled
  // fast while recording or training and slowly otherwise.
  const teach = { state: null, holding: "", training: false, timer: 0, pollMs: 2000, thumbsKey: new Map() };

  async function teachFetch(path, body) {
    const res = await fetch(path, body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({ error: res.statusText }));
    if (!res.ok) { const e = new Error(data.error || res.statusText); e.status = res.status; throw e; }
    return data;
  }

  const pct = (v) => Math.round(v * 1000) / 10 + "%";

  function showResult(r) {
    const el = $("train-result");
    el.className = "train-result ok";
    el.textContent = "held-out accuracy " + pct(r.before) + " → " + pct(r.after) +
      " (" + r.held_out + " frames), trained in " + r.took_s.toFixed(1) + " s; now running " + r.model;
  }

  function showTeachError(msg) {
    const el = $("train-result");
    el.className = "train-result bad";
    el.textContent = msg;
  }

  function buildTeachClasses(classes) {
    const box = $("teach-classes");
    box.replaceChildren();
    teach.thumbsKey.clear();
    for (const c of classes) {
      const row = document.createElement("div");
      row.className = "teach-class";
      row.dataset.class = c.name;
      row.innerHTML = '<button class="btn hold" type="button"><span class="name"></span><span class="count"></span></button><div class="thumbs"></div>';
      row.querySelector(".name").textContent = "Hold: " + c.display;
      const btn = row.querySelector(".hold");
      btn.title = "hold to record " + c.display + " samples from the camera";
      const start = (e) => { e.preventDefault(); holdStart(c.name, btn, e.pointerId); };
      const stop = () => holdStop(c.name);
      btn.addEventListener("pointerdown", start);
      btn.addEventListener("pointerup", stop);
      btn.addEventListener("pointercancel", stop);
      btn.addEventListener("lostpointercapture", stop);
      btn.addEventListener("keydown", (e) => { if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); holdStart(c.name, btn); } });
      btn.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") stop(); });
      box.appendChild(row);
    }
  }

  function showTeach(t) {
    teach.state = t;
    const names = t.classes.map((c) => c.name).join("\u0000");
    if (names !== $("teach-classes").dataset.names) {
      buildTeachClasses(t.classes);
      $("teach-classes").dataset.names = names;
    }
    $("teach-msg").textContent = t.available ? "" : t.reason;
    $("teach-model").textContent = t.model ? (t.taught ? "taught: " : "") + t.model : "";
    const busy = !!t.training || teach.training;
    for (const c of t.classes) {
      const row = $("teach-classes").querySelector('[data-class="' + CSS.escape(c.name) + '"]');
      if (!row) continue;
      const btn = row.querySelector(".hold");
      btn.disabled = !t.available;
      const rec = t.recording && t.recording.class === c.name;
      btn.classList.toggle("active", !!rec);
      row.querySelector(".count").textContent = c.count + " sample" + (c.count === 1 ? "" : "s") + (rec ? " · rec " + t.recording.frames : "");
      // Thumbnails change with the count; the newest comes first.
      const key = c.count + "/" + c.thumbs;
      if (teach.thumbsKey.get(c.name) !== key) {
        teach.thumbsKey.set(c.name, key);
        const thumbs = row.querySelector(".thumbs");
        thumbs.replaceChildren();
        for (let i = 0; i < c.thumbs; i++) {
          const img = document.createElement("img");
          img.alt = c.display + " sample";
          img.src = "/api/teach/thumb?class=" + encodeURIComponent(c.name) + "&i=" + i + "&n=" + c.count;
          thumbs.appendChild(img);
        }
      }
    }
    $("train").disabled = !t.available || busy;
    $("reset").disabled = !t.available || busy || !t.taught;
    $("download").setAttribute("aria-disabled", String(!t.available));
    const prog = $("train-progress");
    prog.hidden = !t.training;
    if (t.training) {
      const p = t.training;
      const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
      prog.querySelector(".fill").style.width = (frac * 100).toFixed(1) + "%";
      prog.querySelector(".text").textContent = p.stage + (p.total > 0 ? " " + p.done + "/" + p.total : "") +
        " · " + p.elapsed_s.toFixed(1) + " s" + (p.eta_s > 0 ? ", about " + p.eta_s.toFixed(0) + " s left" : "");
    } else if (t.result && !teach.training) {
      showResult(t.result);
    } else if (t.error && !teach.training) {
      showTeachError(t.error);
    }
    if (t.last_hold && t.last_hold.stopped && t.last_hold.stopped.startsWith("error")) {
      $("teach-msg").textContent = "recording " + t.last_hold.class + " stopped: " + t.last_hold.stopped.slice(7);
    }
    teach.pollMs = t.recording || t.training || teach.holding ? 250 : 2000;
  }

  async function pollTeach() {
    clearTimeout(teach.timer);
    try {
      showTeach(await teachFetch("/api/teach"));
    } catch (err) {
      $("teach-msg").textContent = "teach: " + err.message;
    }
    teach.timer = setTimeout(pollTeach, teach.pollMs);
  }

  async function holdStart(cls, btn, pointerId) {
    if (teach.holding || btn.disabled) return;
    teach.holding = cls;
    btn.classList.add("active");
    if (pointerId !== undefined) { try { btn.setPointerCapture(pointerId); } catch (_) { /* synthetic pointer */ } }
    const limit = (teach.state && teach.state.hold_limit_s) || 10;
    teach.holdCap = setTimeout(() => holdStop(cls), limit * 1000);
    try {
      await teachFetch("/api/teach/record", { class: cls, action: "start" });
    } catch (err) {
      $("teach-msg").textContent = err.message;
    }
    if (teach.holding !== cls) { // released while the start was on its way
      teach.holding = cls;
      await holdStop(cls);
      return;
    }
    pollTeach();
  }

  async function holdStop(cls) {
    if (teach.holding !== cls) return;
    teach.holding = "";
    clearTimeout(teach.holdCap);
    try {
      const h = await teachFetch("/api/teach/record", { class: cls, action: "stop" });
      $("teach-msg").textContent = h.stopped && h.stopped.startsWith("error") ? h.stopped : "";
    } catch (err) {
      if (err.status !== 409) $("teach-msg").textContent = err.message;
    }
    pollTeach();
  }

  $("train").addEventListener("click", async () => {
    teach.training = true;
    $("train").disabled = true;
    $("reset").disabled = true;
    $("train-result").textContent = "";
    teach.pollMs = 250;
    setTimeout(pollTeach, 100);
    try {
      showResult(await teachFetch("/api/teach/train", {}));
    } catch (err) {
      showTeachError(err.message);
    }
    teach.training = false;
    pollTeach();
  });

  $("reset").addEventListener("click", async () => {
    $("reset").disabled = true;
    try {
      await teachFetch("/api/teach/reset", {});
      const el = $("train-result");
      el.className = "train-result";
      el.textContent = "back to the shipped model";
    } catch (err) {
      showTeachError(err.message);
    }
    pollTeach();
  });

  setStatus(false, "connecting…");
  watchStream();
  connectEvents();
  recordRequest().then(showRecording).catch(() => {});
  pollTeach();
})();
