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

  setStatus(false, "connecting…");
  watchStream();
  connectEvents();
  recordRequest().then(showRecording).catch(() => {});
})();
