// "Read my video call" on the live dashboard: the teacher shares the window or tab of the lesson's video call
// (getDisplayMedia), sees a preview with each face's participant number, and one JPEG of the call (at most the
// server's max width/height and bytes) goes over the capture WebSocket at the session's rate, the next only after
// the server's reply. The participant cards themselves arrive through the dashboard socket (live-dashboard.js).
import { ReconnectingSocket } from "./live-socket.js";

const _ = window.gettext || ((text) => text);
const section = document.getElementById("capture");
const startBtn = document.getElementById("capture-start");
const pauseBtn = document.getElementById("capture-pause");
const stopBtn = document.getElementById("capture-stop");
const stateEl = document.getElementById("capture-state");
const preview = document.getElementById("capture-preview");
const video = document.getElementById("capture-video");
const overlay = document.getElementById("capture-overlay");
const canvas = document.getElementById("capture-frame");

const QUALITIES = [0.8, 0.65, 0.5]; // lowered, frame by frame, while a frame is over the byte limit
const REPLY_TIMEOUT_MS = 30000;
let limits = { width: 1920, height: 1920, bytes: 1024 * 1024, rate: 1 };
let stream = null;
let socket = null;
let ready = false;
let paused = false;
let inFlight = false;
let nextTimer = null;
let replyTimer = null;
let quality = 0;
let frames = 0;

function setState(state, text) {
  stateEl.dataset.state = state;
  stateEl.textContent = text;
  section.dataset.state = state;
}

function scheduleNext(ms) {
  clearTimeout(nextTimer);
  nextTimer = setTimeout(sendFrame, Math.max(0, ms ?? 1000 / limits.rate));
}

function frameSize() {
  const scale = Math.min(1, limits.width / video.videoWidth, limits.height / video.videoHeight);
  return [Math.max(1, Math.round(video.videoWidth * scale)), Math.max(1, Math.round(video.videoHeight * scale))];
}

function sendFrame() {
  if (!ready || paused || inFlight || !socket?.isOpen || !stream) return;
  if (video.paused) video.play().catch(() => {});
  if (video.readyState < 2 || !video.videoWidth) return scheduleNext(200); // no picture yet
  const [width, height] = frameSize();
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(video, 0, 0, width, height);
  inFlight = true;
  canvas.toBlob(
    (blob) => {
      if (!blob || !socket?.isOpen) {
        inFlight = false;
        return scheduleNext();
      }
      if (blob.size > limits.bytes) {
        inFlight = false;
        if (quality < QUALITIES.length - 1) {
          quality += 1;
          return scheduleNext(0);
        }
        setState("error", _("The shared window is too detailed to send; share a smaller window."));
        return scheduleNext();
      }
      socket.send(blob); // a Blob goes out as one binary message
      clearTimeout(replyTimer);
      replyTimer = setTimeout(() => {
        inFlight = false; // no reply: the connection is dead even if the browser has not noticed
        socket?.ws?.close(4000);
      }, REPLY_TIMEOUT_MS);
    },
    "image/jpeg",
    QUALITIES[quality],
  );
}

function drawOverlay(participants) {
  overlay.width = canvas.width;
  overlay.height = canvas.height;
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  ctx.lineWidth = Math.max(2, overlay.width / 600);
  ctx.font = `bold ${Math.max(14, Math.round(overlay.width / 70))}px sans-serif`;
  for (const p of participants) {
    const [x, y, w, h] = p.box;
    ctx.strokeStyle = "#ffeb3b";
    ctx.strokeRect(x, y, w, h);
    const label = String(p.number);
    ctx.fillStyle = "rgba(0,0,0,.7)";
    ctx.fillRect(x, Math.max(0, y - 22), ctx.measureText(label).width + 10, 22);
    ctx.fillStyle = "#ffeb3b";
    ctx.fillText(label, x + 5, Math.max(16, y - 5));
  }
}

function sharingText(faces) {
  return faces === 1 ? _("Reading your video call: 1 face.") : _("Reading your video call: %s faces.").replace("%s", faces);
}

function onMessage(message) {
  switch (message.type) {
    case "hello":
      limits = { width: message.max_width, height: message.max_height, bytes: message.max_bytes, rate: message.rate };
      ready = true;
      inFlight = false;
      setState(paused ? "paused" : "sharing", paused ? _("Paused: nothing is being sent.") : _("Reading your video call…"));
      if (paused) socket.send(JSON.stringify({ type: "pause" }));
      else scheduleNext(0);
      break;
    case "result":
      clearTimeout(replyTimer);
      inFlight = false;
      frames = message.n;
      section.dataset.frames = String(frames);
      section.dataset.faces = String(message.faces);
      drawOverlay(message.participants);
      if (!paused) setState("sharing", sharingText(message.faces));
      scheduleNext(message.next_in_ms);
      break;
    case "error":
      clearTimeout(replyTimer);
      inFlight = false;
      if (message.code === "too_large" && quality < QUALITIES.length - 1) quality += 1;
      if (message.code !== "too_fast" && message.code !== "bad_command") setState("error", message.message);
      if (!paused) scheduleNext(message.next_in_ms);
      break;
    case "paused":
      setState("paused", _("Paused: nothing is being sent."));
      break;
    case "ended":
      setState("ended", message.message);
      finish();
      break;
    case "refused":
      setState("refused", message.message);
      break;
    case "stopped":
      break;
  }
}

function onClose(event, final) {
  ready = false;
  inFlight = false;
  clearTimeout(nextTimer);
  clearTimeout(replyTimer);
  if (event.code === 4410) {
    setState("ended", _("The session has ended. Capture stopped."));
    finish();
  } else if (final && stateEl.dataset.state !== "stopped") {
    if (stateEl.dataset.state !== "refused") setState("refused", event.reason || _("The server stopped the capture."));
    finish();
  }
}

function stopTracks() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  video.srcObject = null;
  preview.hidden = true;
}

function finish() {
  stopTracks();
  socket?.close();
  socket = null;
  ready = false;
  clearTimeout(nextTimer);
  clearTimeout(replyTimer);
  startBtn.disabled = stateEl.dataset.state === "ended";
  pauseBtn.disabled = true;
  stopBtn.disabled = true;
}

function stop(reason) {
  if (socket?.isOpen) socket.send(JSON.stringify({ type: "stop" }));
  setState("stopped", reason || _("Stopped. Nothing is being sent."));
  finish();
}

async function start() {
  if (!navigator.mediaDevices?.getDisplayMedia) {
    setState("unsupported", _("This browser cannot share a window or tab. Use a recent Chrome, Edge or Firefox on a computer."));
    return;
  }
  startBtn.disabled = true;
  setState("picking", _("Pick the window or tab of your video call…"));
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 5 }, audio: false });
  } catch (error) {
    startBtn.disabled = false;
    setState("idle", error.name === "NotAllowedError" ? _("Sharing was cancelled.") : `${_("Cannot share the screen:")} ${error.message}`);
    return;
  }
  // The browser's own "Stop sharing" button ends the track: stop cleanly.
  stream.getVideoTracks()[0].addEventListener("ended", () => stop(_("Sharing stopped.")));
  video.srcObject = stream;
  preview.hidden = false;
  // Started explicitly: `autoplay` does not start a video that was hidden when its stream arrived.
  await video.play().catch(() => {});
  paused = false;
  quality = 0;
  pauseBtn.disabled = false;
  pauseBtn.textContent = _("Pause");
  stopBtn.disabled = false;
  setState("connecting", _("Connecting…"));
  socket = new ReconnectingSocket(section.dataset.socketPath, {
    onOpen: () => setState("connecting", _("Connected, waiting for the server…")),
    onMessage,
    onClose,
    onRetry: (delay) => setState("reconnecting", _("Connection lost. Reconnecting in %s s…").replace("%s", Math.round(delay))),
  });
  socket.open();
}

if (section) {
  const unsupported = !navigator.mediaDevices?.getDisplayMedia;
  if (unsupported && !section.dataset.refusal) {
    setState("unsupported", _("This browser cannot share a window or tab. Use a recent Chrome, Edge or Firefox on a computer."));
  }
  startBtn.addEventListener("click", start);
  // Disabled in the page until now, so that no click comes before this listener.
  startBtn.disabled = Boolean(section.dataset.refusal) || unsupported;
  pauseBtn.addEventListener("click", () => {
    paused = !paused;
    pauseBtn.textContent = paused ? _("Resume") : _("Pause");
    if (paused) {
      clearTimeout(nextTimer);
      socket?.send(JSON.stringify({ type: "pause" }));
      setState("paused", _("Paused: nothing is being sent."));
    } else {
      socket?.send(JSON.stringify({ type: "resume" }));
      setState("sharing", _("Reading your video call…"));
      scheduleNext(0);
    }
  });
  stopBtn.addEventListener("click", () => stop());
}
