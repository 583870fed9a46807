// The student's join page: camera preview, then one JPEG at a time over a binary WebSocket, the next frame only
// after the server's reply (so a slow server never builds a queue), at the rate the session sets.
import { emotionLabel, gettext, interpolate } from "./i18n.js";
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
const cameraHelp = document.getElementById("camera-help");

// The server's refusal and error codes, worded in the student's language (the server's text is the fallback).
const SERVER_MESSAGES = {
  not_authenticated: gettext("Log in to join the session."),
  not_a_student: gettext("Only students of this class stream their camera."),
  not_enrolled: gettext("You are not enrolled in this class."),
  no_consent: gettext("You have not consented to camera analysis. Review the policy on your consent page."),
  not_live: gettext("This session is not live."),
  replaced: gettext("You joined this session from another window."),
  too_large: gettext("This picture is too large for the server. Lower the camera resolution and try again."),
  text_not_supported: gettext("Send camera frames as binary JPEG messages."),
  analysis_failed: gettext("The server could not analyse this picture."),
  analysis_unavailable: gettext("The server cannot analyse pictures right now. Tell your teacher."),
};
const serverText = (message) => SERVER_MESSAGES[message.code] ?? message.message;

// What went wrong with the camera, from the error getUserMedia gave (or its absence on an insecure page).
export function cameraProblem(error) {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) return "insecure";
  switch (error?.name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return "denied";
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return "in-use";
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return "no-camera";
    default:
      return "other";
  }
}
const CAMERA_PROBLEMS = {
  denied: gettext("Camera access is blocked. Allow it for this page (see below), then try again."),
  "in-use": gettext("Your camera is in use by another program. Close it (see below), then try again."),
  "no-camera": gettext("No camera was found on this computer."),
  insecure: gettext("The camera only works on a secure (https://) page."),
  other: gettext("The camera could not start."),
};

function showCameraHelp(problem) {
  cameraHelp.hidden = problem === null;
  for (const block of cameraHelp.querySelectorAll("[data-camera-problem]")) {
    block.hidden = block.dataset.cameraProblem !== problem;
  }
}

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
      setState(paused ? "paused" : "streaming", paused ? gettext("Paused: nothing is being sent.") : gettext("Streaming"));
      scheduleNext(0);
      break;
    case "result":
      clearTimeout(replyTimer);
      inFlight = false;
      analysed = message.n;
      seen.hidden = false;
      seenCount.textContent = String(analysed);
      seenFace.textContent = message.face ? gettext("face found") : gettext("no face");
      if (seenEmotion) seenEmotion.textContent = message.emotion ? emotionLabel(message.emotion) : "—";
      noFaceStreak = message.face ? 0 : noFaceStreak + 1;
      if (!paused) {
        if (noFaceStreak > 0) setState("no-face", gettext("No face found — check your camera"));
        else setState("streaming", gettext("Streaming"));
      }
      scheduleNext(message.next_in_ms);
      break;
    case "error":
      clearTimeout(replyTimer);
      inFlight = false;
      if (message.code !== "too_fast") setState("frame-error", serverText(message));
      scheduleNext(message.next_in_ms);
      break;
    case "ended":
      setState("ended", gettext("Session ended. Your camera is off."));
      finish();
      break;
    case "refused":
      setState("refused", serverText(message));
      break;
  }
}

function onClose(event, final) {
  ready = false;
  inFlight = false;
  clearTimeout(nextTimer);
  clearTimeout(replyTimer);
  if (event.code === 4410) {
    setState("ended", gettext("Session ended. Your camera is off."));
    finish();
  } else if (final && stateEl.dataset.state !== "stopped") {
    if (stateEl.dataset.state !== "refused") setState("refused", gettext("The server closed the stream."));
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
  setState("starting", gettext("Asking for your camera…"));
  showCameraHelp(null);
  try {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) throw new Error("insecure context");
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: width }, height: { ideal: height } }, audio: false });
  } catch (error) {
    const problem = cameraProblem(error);
    stateEl.dataset.problem = problem;
    setState("camera-error", CAMERA_PROBLEMS[problem]);
    showCameraHelp(problem);
    startBtn.disabled = false;
    return;
  }
  video.srcObject = stream;
  placeholder.hidden = true;
  paused = false;
  pauseBtn.disabled = false;
  pauseBtn.textContent = gettext("Pause");
  stopBtn.disabled = false;
  setState("connecting", gettext("Connecting…"));
  socket = new ReconnectingSocket(root.dataset.socketPath, {
    onOpen: () => setState("connecting", gettext("Connected, waiting for the server…")),
    onMessage,
    onClose,
    onRetry: (delay) =>
      setState("reconnecting", interpolate(gettext("Connection lost. Reconnecting in %(seconds)s s…"), { seconds: Math.round(delay) })),
  });
  socket.open();
}

startBtn.addEventListener("click", start);
startBtn.disabled = false; // disabled in the page until now, so that no click comes before this listener
pauseBtn.addEventListener("click", () => {
  paused = !paused;
  pauseBtn.textContent = paused ? gettext("Resume") : gettext("Pause");
  if (paused) {
    clearTimeout(nextTimer);
    setState("paused", gettext("Paused: nothing is being sent."));
  } else {
    setState("streaming", gettext("Streaming"));
    scheduleNext(0);
  }
});
stopBtn.addEventListener("click", () => {
  setState("stopped", gettext("Camera stopped. Nothing is being sent."));
  finish();
  startBtn.disabled = false;
});
