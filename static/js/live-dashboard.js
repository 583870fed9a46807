// The teacher's live dashboard: history from the database on (re)connect, then batched student updates,
// a class snapshot about once a second, alerts and status changes over the dashboard WebSocket.
import { LANGUAGE, emotionLabel, gettext, interpolate, percent, time } from "./i18n.js";
import { ReconnectingSocket } from "./live-socket.js";

const _ = window.gettext || ((text) => text);
const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
const ICONS = { angry: "😠", disgust: "🤢", fear: "😨", happy: "😄", sad: "😢", surprise: "😮", neutral: "😐" };
const root = document.getElementById("live-dashboard");
const presenceOnly = root.dataset.presenceOnly === "1";
const grid = document.getElementById("students");
const alertsList = document.getElementById("alerts");
const conn = document.getElementById("conn");
const pausedNotice = document.getElementById("live-updates-paused");
const css = getComputedStyle(document.documentElement);
const colour = (emotion) => css.getPropertyValue(`--emotion-${emotion}`).trim() || "#999";

const students = new Map(); // id -> state
const tiles = new Map(); // id -> element
const seenAlerts = new Set();
let bucketSeconds = 10;
const buckets = new Map(); // bucket start (s) -> {n, index, shares}

// --- chart ---------------------------------------------------------------------------------------------
const datasets = presenceOnly
  ? [{ label: gettext("faces visible"), key: "index", data: [], borderColor: "#2e7d32", backgroundColor: "rgba(46,125,50,.25)", fill: true, yAxisID: "y" }]
  : [
      ...EMOTIONS.map((e) => ({ label: emotionLabel(e), key: e, data: [], borderColor: colour(e), backgroundColor: colour(e), fill: true, stack: "mood", borderWidth: 1 })),
      { label: gettext("mood index"), key: "index", data: [], borderColor: "#222", borderDash: [4, 3], fill: false, yAxisID: "yIndex", borderWidth: 2 },
    ];
const chart = new window.Chart(document.getElementById("mood-chart"), {
  type: "line",
  data: { datasets },
  options: {
    locale: LANGUAGE,
    animation: false,
    maintainAspectRatio: false,
    interaction: { mode: "nearest", axis: "x", intersect: false },
    // Points only while there are too few buckets to draw a line (scriptable, so it follows the data).
    elements: { point: { radius: (ctx) => (ctx.dataset.data.length < 4 ? 3 : 0) } },
    scales: {
      // A young lesson spans a few minutes, so Chart.js puts ticks every 15 or 30 s: labelled by the minute alone
      // they would read "10:13, 10:13, 10:13". Seconds are shown whenever a tick falls between whole minutes.
      x: {
        type: "time",
        time: { tooltipFormat: "HH:mm:ss" },
        ticks: { callback: (value, index, ticks) => time(new Date(value), ticks.some((t) => t.value % 60000 !== 0)) },
      },
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
  if (!epoch) return gettext("never");
  const s = Math.max(0, Math.round(Date.now() / 1000 - epoch));
  if (s < 60) return interpolate(gettext("%(seconds)s s ago"), { seconds: s });
  if (s < 3600) return interpolate(gettext("%(minutes)s min ago"), { minutes: Math.floor(s / 60) });
  return time(new Date(epoch * 1000), true);
}

// --- video-call participants: cards with an "Assign to student" control -----------------------------------
const candidates = JSON.parse(document.getElementById("assign-candidates")?.textContent || "[]");

function assignControl(tile) {
  const form = document.createElement("form");
  form.className = "assign";
  const select = document.createElement("select");
  select.setAttribute("aria-label", _("Assign to student"));
  select.append(new Option(_("Anonymous"), ""));
  for (const c of candidates) select.append(new Option(c.consented ? c.name : `${c.name} (${_("no consent")})`, c.uuid));
  const button = document.createElement("button");
  button.type = "submit";
  button.className = "outline";
  button.textContent = _("Assign to student");
  const error = document.createElement("span");
  error.className = "assign-error";
  error.setAttribute("role", "alert");
  form.append(select, button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    assign(tile, select.value || null, error);
  });
  tile.append(form, error);
}

async function assign(tile, studentUuid, error) {
  error.textContent = "";
  const url = root.dataset.assignUrl.replace(root.dataset.participantPlaceholder, tile.dataset.participant);
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: JSON.stringify({ student: studentUuid }),
      credentials: "same-origin",
    });
  } catch (failure) {
    error.textContent = _("Could not reach the server. Try again.");
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    error.textContent = body.message || _("The assignment was refused.");
    tile.dataset.assignError = body.code || String(response.status);
    return;
  }
  delete tile.dataset.assignError;
  const id = tile.dataset.studentId;
  upsert([{ id, name: body.participant.name, student_id: body.participant.student ? body.participant.student.uuid : null }]);
}

// The name under the participant's video tile, read on the server: a proposal the teacher confirms or ignores.
function showProposal(tile, proposal) {
  let line = tile.querySelector(".proposal");
  if (!proposal) {
    line?.remove();
    delete tile.dataset.proposal;
    return;
  }
  if (tile.dataset.proposal === proposal.student) return;
  tile.dataset.proposal = proposal.student;
  line?.remove();
  line = document.createElement("span");
  line.className = "proposal";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "outline";
  button.textContent = _("Assign");
  line.append(`${_("The name under the tile reads")} “${proposal.name}”. `, button);
  button.addEventListener("click", () => assign(tile, proposal.student, tile.querySelector(".assign-error")));
  tile.querySelector("form.assign").before(line);
  const select = tile.querySelector("form.assign select");
  if (select && !select.value) select.value = proposal.student;
}
const lastSeen = (epoch) => interpolate(gettext("last seen %(when)s"), { when: ago(epoch) });

function renderTile(state) {
  let tile = tiles.get(state.id);
  if (!tile) {
    tile = document.createElement("div");
    tile.className = "student-tile";
    tile.dataset.studentId = state.id;
    tile.innerHTML = '<span class="name"></span><span class="emotion"></span><span class="meta face"></span><span class="meta seen"></span>';
    if (state.kind === "participant") {
      tile.classList.add("participant-tile");
      tile.dataset.participant = state.participant;
      tile.dataset.number = state.number;
      assignControl(tile);
    }
    tiles.set(state.id, tile);
    grid.append(tile);
  }
  if (state.kind === "participant") {
    tile.dataset.assigned = state.student_id ? "1" : "0";
    showProposal(tile, state.student_id ? null : state.proposal);
  }
  const face = state.streaming && state.faces > 0;
  tile.dataset.connected = state.connected ? "1" : "0";
  tile.dataset.streaming = state.streaming ? "1" : "0";
  tile.dataset.face = face ? "1" : "0";
  tile.dataset.emotion = face && state.emotion ? state.emotion : "";
  tile.querySelector(".name").textContent = state.name;
  const emotionEl = tile.querySelector(".emotion");
  if (presenceOnly) {
    emotionEl.textContent = face ? `🙂 ${gettext("present")}` : state.streaming ? `⚠️ ${gettext("no face")}` : "—";
    tile.style.setProperty("--tile-colour", face ? "#2e7d32" : state.streaming ? "#ef6c00" : "");
  } else if (face && state.emotion) {
    const confidence = state.confidence != null ? ` ${percent(state.confidence)}` : "";
    emotionEl.textContent = `${ICONS[state.emotion] ?? ""} ${emotionLabel(state.emotion)}${confidence}`;
    tile.style.setProperty("--tile-colour", colour(state.emotion));
  } else {
    emotionEl.textContent = state.streaming ? `⚠️ ${gettext("no face")}` : "—";
    tile.style.setProperty("--tile-colour", state.streaming ? "#ef6c00" : "");
  }
  const status =
    state.kind === "participant"
      ? state.streaming
        ? gettext("in the video call")
        : state.connected
          ? gettext("in the call, capture paused")
          : gettext("not in the call")
      : state.streaming
        ? gettext("streaming")
        : state.connected
          ? gettext("joined, paused")
          : gettext("not streaming");
  let faces = "";
  if (state.streaming && state.faces > 1) faces = ` · ${interpolate(gettext("%(count)s faces"), { count: state.faces })}`;
  else if (state.streaming && face) faces = ` · ${gettext("face ✓")}`;
  tile.querySelector(".face").textContent = `${status}${faces}`;
  tile.querySelector(".seen").dataset.epoch = state.last_seen ?? "";
  tile.querySelector(".seen").textContent = lastSeen(state.last_seen);
}

function upsert(list) {
  for (const state of list) {
    const merged = { ...(students.get(state.id) ?? {}), ...state };
    students.set(state.id, merged);
    renderTile(merged);
  }
  // Students by name, then the video call's participants by number.
  const rank = (s) => (s.kind === "participant" ? 1 : 0);
  const sorted = [...students.values()].sort(
    (a, b) => rank(a) - rank(b) || (rank(a) ? a.number - b.number : (a.name ?? "").localeCompare(b.name ?? "")),
  );
  for (const s of sorted) grid.append(tiles.get(s.id));
  const inCall = document.getElementById("count-participants");
  if (inCall) inCall.textContent = String(sorted.filter((s) => s.kind === "participant" && s.streaming).length);
}

function setCounts(counts, index) {
  document.getElementById("count-joined").textContent = counts.joined;
  document.getElementById("count-streaming").textContent = counts.streaming;
  document.getElementById("count-faces").textContent = counts.faces;
  document.getElementById("count-index").textContent = index == null ? "–" : percent(index);
}

// --- alerts and status ---------------------------------------------------------------------------------
// Alerts are worded here, in the teacher's language, from their kind; the server's English text is the fallback.
function alertText(alert) {
  const name = students.get(alert.student_id)?.name ?? "";
  switch (alert.kind) {
    case "no_face":
      return interpolate(gettext("%(name)s: no face visible for a while."), { name });
    case "negative":
      return interpolate(gettext("%(name)s: negative expression for a while."), { name });
    case "class_drop":
      return presenceOnly ? gettext("The class presence index fell sharply.") : gettext("The class mood index fell sharply.");
    default:
      return alert.message;
  }
}

function addAlert(alert) {
  const key = alert.id ?? `${alert.kind}-${alert.student_id}-${alert.at}`;
  if (seenAlerts.has(key)) return;
  seenAlerts.add(key);
  document.getElementById("no-alerts")?.remove();
  const li = document.createElement("li");
  li.className = `alert-${alert.kind}`;
  li.dataset.kind = alert.kind;
  li.textContent = `${time(new Date(alert.at * 1000), true)} · ${alertText(alert)}`;
  alertsList.prepend(li);
  document.getElementById("alert-count").textContent = String(seenAlerts.size);
}

const STATUS_LABELS = { scheduled: gettext("Scheduled"), live: gettext("Live"), ended: gettext("Ended"), cancelled: gettext("Cancelled") };

function setStatus(status) {
  const badge = document.getElementById("status-badge");
  badge.className = `badge badge-${status}`;
  badge.textContent = STATUS_LABELS[status] ?? status;
  root.dataset.status = status;
  if (status === "ended") {
    document.getElementById("end-session")?.setAttribute("disabled", "");
    conn.textContent = gettext("The session has ended. Students' cameras were stopped.");
  }
}

// The channel layer (Redis) between server processes is away ("paused") or back ("live"): told on each change
// and repeated in every snapshot, so a dashboard that connects during an outage shows it too.
function setLiveUpdates(state) {
  pausedNotice.hidden = state !== "paused";
  root.dataset.liveUpdates = state;
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
      conn.textContent = message.session.status === "live" ? gettext("Live") : STATUS_LABELS[message.session.status] ?? message.session.status;
      break;
    case "snapshot":
      if (message.live_updates) setLiveUpdates(message.live_updates);
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
    case "live_updates":
      setLiveUpdates(message.state);
      break;
    case "refused":
      conn.textContent = message.message;
      break;
  }
}

const socket = new ReconnectingSocket(root.dataset.socketPath, {
  onOpen: () => (conn.textContent = gettext("Connected")),
  onMessage,
  onClose: (event, final) => {
    if (!final) conn.textContent = gettext("Connection lost…");
  },
  onRetry: (delay) => (conn.textContent = interpolate(gettext("Connection lost. Reconnecting in %(seconds)s s…"), { seconds: Math.round(delay) })),
});
socket.open();
setInterval(() => {
  for (const el of grid.querySelectorAll(".seen")) el.textContent = lastSeen(Number(el.dataset.epoch) || null);
}, 1000);
