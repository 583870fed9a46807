// The student's join page: camera preview, then one JPEG at a time over a binary WebSocket, the next frame only
// after the server's reply (so a slow server never builds a queue), at the rate the session sets.
import { ReconnectingSocket } from "./live-socket.js";

const root = document.getElementById("live-join");
const video = document.getElementById("preview");
const canvas = document.getElementById("frame");
const placeholder = document.getElementById("placeholder");
const stateEl = document.getElementById("state");
const startBtn = document.getElementById("start");
const pauseBtn = document.getElementById("pause");
const stopBtn = document.getElementById("stop");
const seen = document.getElementById("seen");
const seenFace = document.getElementById("seen-face");
const seenEmotion = document.getElementById("seen-emotion");
const seenCount = document.getElementById("seen-count");

const JPEG_QUALITY = 0.7;
const REPLY_TIMEOUT_MS = 15000;
let width = Number(root.dataset.width);
let height = Number(root.dataset.height);
let rate = Number(root.dataset.rate);
let stream = null;
let socket = null;
let inFlight = false;
let paused = false;
let ready = false; // the server said hello
let nextTimer = null;
let replyTimer = null;
let analysed = 0;
let noFaceStreak = 0;

function setState(state, text) {
  stateEl.dataset.state = state;
  stateEl.textContent = text;
}

function scheduleNext(ms) {
  clearTimeout(nextTimer);
  nextTimer = setTimeout(sendFrame, Math.max(0, ms ?? 1000 / rate));
}

function sendFrame() {
  if (!ready || paused || inFlight || !socket?.isOpen || !stream) return;
  if (video.readyState < 2) return scheduleNext(200); // no picture yet
  const ctx = canvas.getContext("2d");
  ctx.drawImage(video, 0, 0, width, height);
  inFlight = true;
  canvas.toBlob(
    (blob) => {
      if (!blob || !socket?.isOpen) {
        inFlight = false;
        return scheduleNext();
      }
      socket.send(blob); // a Blob goes out as a binary message: no base64
      clearTimeout(replyTimer);
      replyTimer = setTimeout(() => {
        // No reply: the connection is dead even if the browser has not noticed. Reconnect.
        inFlight = false;
        socket?.ws?.close(4000);
      }, REPLY_TIMEOUT_MS);
    },
    "image/jpeg",
    JPEG_QUALITY,
  );
}

function onMessage(message) {
  switch (message.type) {
    case "hello":
      width = message.width;
      height = message.height;
      rate = message.rate;
      canvas.width = width;
      canvas.height = height;
      ready = true;
      inFlight = false;
      setState(paused ? "paused" : "streaming", paused ? "Paused: nothing is being sent." : "Streaming");
      scheduleNext(0);
      break;
    case "result":
      clearTimeout(replyTimer);
      inFlight = false;
      analysed = message.n;
      seen.hidden = false;
      seenCount.textContent = String(analysed);
      seenFace.textContent = message.face ? "face found" : "no face";
      if (seenEmotion) seenEmotion.textContent = message.emotion || "—";
      noFaceStreak = message.face ? 0 : noFaceStreak + 1;
      if (!paused) {
        if (noFaceStreak > 0) setState("no-face", "No face found — check your camera");
        else setState("streaming", "Streaming");
      }
      scheduleNext(message.next_in_ms);
      break;
    case "error":
      clearTimeout(replyTimer);
      inFlight = false;
      if (message.code !== "too_fast") setState("frame-error", message.message);
      scheduleNext(message.next_in_ms);
      break;
    case "ended":
      setState("ended", "Session ended. Your camera is off.");
      finish();
      break;
    case "refused":
      setState("refused", message.message);
      break;
  }
}

function onClose(event, final) {
  ready = false;
  inFlight = false;
  clearTimeout(nextTimer);
  clearTimeout(replyTimer);
  if (event.code === 4410) {
    setState("ended", "Session ended. Your camera is off.");
    finish();
  } else if (final && stateEl.dataset.state !== "stopped") {
    if (stateEl.dataset.state !== "refused") setState("refused", event.reason || "The server closed the stream.");
    finish();
  }
}

function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  video.srcObject = null;
  placeholder.hidden = false;
}

function finish() {
  stopCamera();
  socket?.close();
  socket = null;
  startBtn.disabled = stateEl.dataset.state === "ended";
  pauseBtn.disabled = true;
  stopBtn.disabled = true;
}

async function start() {
  startBtn.disabled = true;
  setState("starting", "Asking for your camera…");
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: width }, height: { ideal: height } }, audio: false });
  } catch (error) {
    setState("camera-error", `Cannot use your camera: ${error.message}. Allow camera access and try again.`);
    startBtn.disabled = false;
    return;
  }
  video.srcObject = stream;
  placeholder.hidden = true;
  paused = false;
  pauseBtn.disabled = false;
  pauseBtn.textContent = "Pause";
  stopBtn.disabled = false;
  setState("connecting", "Connecting…");
  socket = new ReconnectingSocket(root.dataset.socketPath, {
    onOpen: () => setState("connecting", "Connected, waiting for the server…"),
    onMessage,
    onClose,
    onRetry: (delay) => setState("reconnecting", `Connection lost. Reconnecting in ${Math.round(delay)} s…`),
  });
  socket.open();
}

startBtn.addEventListener("click", start);
pauseBtn.addEventListener("click", () => {
  paused = !paused;
  pauseBtn.textContent = paused ? "Resume" : "Pause";
  if (paused) {
    clearTimeout(nextTimer);
    setState("paused", "Paused: nothing is being sent.");
  } else {
    setState("streaming", "Streaming");
    scheduleNext(0);
  }
});
stopBtn.addEventListener("click", () => {
  setState("stopped", "Camera stopped. Nothing is being sent.");
  finish();
  startBtn.disabled = false;
});
