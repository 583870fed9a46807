// The teacher's live dashboard: history from the database on (re)connect, then batched student updates,
// a class snapshot about once a second, alerts and status changes over the dashboard WebSocket.
import { ReconnectingSocket } from "./live-socket.js";

const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
const ICONS = { angry: "😠", disgust: "🤢", fear: "😨", happy: "😄", sad: "😢", surprise: "😮", neutral: "😐" };
const root = document.getElementById("live-dashboard");
const presenceOnly = root.dataset.presenceOnly === "1";
const grid = document.getElementById("students");
const alertsList = document.getElementById("alerts");
const conn = document.getElementById("conn");
const css = getComputedStyle(document.documentElement);
const colour = (emotion) => css.getPropertyValue(`--emotion-${emotion}`).trim() || "#999";

const students = new Map(); // id -> state
const tiles = new Map(); // id -> element
const seenAlerts = new Set();
let bucketSeconds = 10;
const buckets = new Map(); // bucket start (s) -> {n, index, shares}

// --- chart ---------------------------------------------------------------------------------------------
const datasets = presenceOnly
  ? [{ label: "faces visible", key: "index", data: [], borderColor: "#2e7d32", backgroundColor: "rgba(46,125,50,.25)", fill: true, yAxisID: "y" }]
  : [
      ...EMOTIONS.map((e) => ({ label: e, key: e, data: [], borderColor: colour(e), backgroundColor: colour(e), fill: true, stack: "mood", borderWidth: 1 })),
      { label: "mood index", key: "index", data: [], borderColor: "#222", borderDash: [4, 3], fill: false, yAxisID: "yIndex", borderWidth: 2 },
    ];
const chart = new window.Chart(document.getElementById("mood-chart"), {
  type: "line",
  data: { datasets },
  options: {
    animation: false,
    maintainAspectRatio: false,
    interaction: { mode: "nearest", axis: "x", intersect: false },
    // Points only while there are too few buckets to draw a line (scriptable, so it follows the data).
    elements: { point: { radius: (ctx) => (ctx.dataset.data.length < 4 ? 3 : 0) } },
    scales: {
      x: { type: "time", time: { tooltipFormat: "HH:mm:ss" } },
      y: { stacked: !presenceOnly, min: 0, max: 1, ticks: { format: { style: "percent" } } },
      ...(presenceOnly ? {} : { yIndex: { min: 0, max: 1, display: false } }),
    },
    plugins: { legend: { position: "bottom" } },
  },
});

function addPoint(t, index, shares) {
  const key = Math.floor(t / bucketSeconds) * bucketSeconds;
  const bucket = buckets.get(key) ?? { n: 0, index: 0, indexN: 0, shares: Object.fromEntries(EMOTIONS.map((e) => [e, 0])) };
  bucket.n += 1;
  if (index !== null && index !== undefined) {
    bucket.index += index;
    bucket.indexN += 1;
  }
  for (const e of EMOTIONS) bucket.shares[e] += shares?.[e] ?? 0;
  buckets.set(key, bucket);
}

function redrawChart() {
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  for (const ds of chart.data.datasets) {
    ds.data = keys.map((k) => {
      const b = buckets.get(k);
      const y = ds.key === "index" ? (b.indexN ? b.index / b.indexN : null) : b.shares[ds.key] / b.n;
      return { x: k * 1000, y };
    });
  }
  chart.update("none");
}

// --- students ------------------------------------------------------------------------------------------
function ago(epoch) {
  if (!epoch) return "never";
  const s = Math.max(0, Math.round(Date.now() / 1000 - epoch));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return new Date(epoch * 1000).toLocaleTimeString();
}

function renderTile(state) {
  let tile = tiles.get(state.id);
  if (!tile) {
    tile = document.createElement("div");
    tile.className = "student-tile";
    tile.dataset.studentId = state.id;
    tile.innerHTML = '<span class="name"></span><span class="emotion"></span><span class="meta face"></span><span class="meta seen"></span>';
    tiles.set(state.id, tile);
    grid.append(tile);
  }
  const face = state.streaming && state.faces > 0;
  tile.dataset.connected = state.connected ? "1" : "0";
  tile.dataset.streaming = state.streaming ? "1" : "0";
  tile.dataset.face = face ? "1" : "0";
  tile.dataset.emotion = face && state.emotion ? state.emotion : "";
  tile.querySelector(".name").textContent = state.name;
  const emotionEl = tile.querySelector(".emotion");
  if (presenceOnly) {
    emotionEl.textContent = face ? "🙂 present" : state.streaming ? "⚠️ no face" : "—";
    tile.style.setProperty("--tile-colour", face ? "#2e7d32" : state.streaming ? "#ef6c00" : "");
  } else if (face && state.emotion) {
    const confidence = state.confidence != null ? ` ${Math.round(state.confidence * 100)}%` : "";
    emotionEl.textContent = `${ICONS[state.emotion] ?? ""} ${state.emotion}${confidence}`;
    tile.style.setProperty("--tile-colour", colour(state.emotion));
  } else {
    emotionEl.textContent = state.streaming ? "⚠️ no face" : "—";
    tile.style.setProperty("--tile-colour", state.streaming ? "#ef6c00" : "");
  }
  const status = state.streaming ? "streaming" : state.connected ? "joined, paused" : "not streaming";
  tile.querySelector(".face").textContent = `${status}${state.streaming ? (state.faces > 1 ? ` · ${state.faces} faces` : face ? " · face ✓" : "") : ""}`;
  tile.querySelector(".seen").dataset.epoch = state.last_seen ?? "";
  tile.querySelector(".seen").textContent = `last seen ${ago(state.last_seen)}`;
}

function upsert(list) {
  for (const state of list) {
    const merged = { ...(students.get(state.id) ?? {}), ...state };
    students.set(state.id, merged);
    renderTile(merged);
  }
  const sorted = [...students.values()].sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
  for (const s of sorted) grid.append(tiles.get(s.id));
}

function setCounts(counts, index) {
  document.getElementById("count-joined").textContent = counts.joined;
  document.getElementById("count-streaming").textContent = counts.streaming;
  document.getElementById("count-faces").textContent = counts.faces;
  document.getElementById("count-index").textContent = index == null ? "–" : `${Math.round(index * 100)}%`;
}

// --- alerts and status ---------------------------------------------------------------------------------
function addAlert(alert) {
  const key = alert.id ?? `${alert.kind}-${alert.student_id}-${alert.at}`;
  if (seenAlerts.has(key)) return;
  seenAlerts.add(key);
  document.getElementById("no-alerts")?.remove();
  const li = document.createElement("li");
  li.className = `alert-${alert.kind}`;
  li.dataset.kind = alert.kind;
  li.textContent = `${new Date(alert.at * 1000).toLocaleTimeString()} · ${alert.message}`;
  alertsList.prepend(li);
  document.getElementById("alert-count").textContent = String(seenAlerts.size);
}

function setStatus(status) {
  const badge = document.getElementById("status-badge");
  badge.className = `badge badge-${status}`;
  badge.textContent = status.charAt(0).toUpperCase() + status.slice(1);
  root.dataset.status = status;
  if (status === "ended") {
    document.getElementById("end-session")?.setAttribute("disabled", "");
    conn.textContent = "The session has ended. Students' cameras were stopped.";
  }
}

// --- socket --------------------------------------------------------------------------------------------
function onMessage(message) {
  switch (message.type) {
    case "history":
      bucketSeconds = message.bucket_seconds;
      document.getElementById("count-enrolled").textContent = message.enrolled;
      buckets.clear();
      for (const p of message.series) {
        buckets.set(p.t, {
          n: 1,
          index: p.index ?? 0,
          indexN: p.index == null ? 0 : 1,
          shares: Object.fromEntries(EMOTIONS.map((e) => [e, p.shares?.[e] ?? 0])),
        });
      }
      redrawChart();
      upsert(message.students);
      for (const alert of message.alerts) addAlert(alert);
      setStatus(message.session.status);
      conn.textContent = message.session.status === "live" ? "Live" : `Session ${message.session.status}.`;
      break;
    case "snapshot":
      upsert(message.students);
      setCounts(message.counts, message.index);
      if (message.status === "live" && message.counts.streaming > 0) {
        addPoint(message.at, message.index, message.distribution);
        redrawChart();
      }
      root.dataset.snapshots = String(Number(root.dataset.snapshots ?? 0) + 1);
      break;
    case "students":
      upsert(message.students);
      break;
    case "alert":
      addAlert(message.alert);
      break;
    case "status":
      setStatus(message.status);
      break;
    case "refused":
      conn.textContent = message.message;
      break;
  }
}

const socket = new ReconnectingSocket(root.dataset.socketPath, {
  onOpen: () => (conn.textContent = "Connected"),
  onMessage,
  onClose: (event, final) => {
    if (!final) conn.textContent = "Connection lost…";
  },
  onRetry: (delay) => (conn.textContent = `Connection lost. Reconnecting in ${Math.round(delay)} s…`),
});
socket.open();
setInterval(() => {
  for (const el of grid.querySelectorAll(".seen")) el.textContent = `last seen ${ago(Number(el.dataset.epoch) || null)}`;
}, 1000);
