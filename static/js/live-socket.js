// A WebSocket that reconnects with exponential backoff after network drops, but never after a deliberate
// refusal or the end of the session (the server's 44xx/45xx close codes, see analytics/live/consumers.py).
// 4429 (frames kept coming too fast) and 4503 (the server's database is away) are retried with the backoff.
export const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4408, 4409, 4410, 4500]);

export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export class ReconnectingSocket {
  constructor(path, { onOpen, onMessage, onClose, onRetry, binaryType = "arraybuffer" } = {}) {
    this.url = socketUrl(path);
    this.handlers = { onOpen, onMessage, onClose, onRetry };
    this.binaryType = binaryType;
    this.attempt = 0;
    this.stopped = false;
    this.ws = null;
    this.timer = null;
  }

  open() {
    this.stopped = false;
    clearTimeout(this.timer);
    const ws = new WebSocket(this.url);
    ws.binaryType = this.binaryType;
    this.ws = ws;
    ws.onopen = () => this.handlers.onOpen?.();
    ws.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      const message = JSON.parse(event.data);
      if (message.type === "hello" || message.type === "history") this.attempt = 0;
      this.handlers.onMessage?.(message);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const final = this.stopped || FINAL_CLOSE_CODES.has(event.code);
      this.handlers.onClose?.(event, final);
      if (!final) this.retry();
    };
  }

  retry() {
    // 1, 2, 4, ... 30 s, with jitter so a whole class does not reconnect in the same instant.
    const delay = Math.min(30, 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.handlers.onRetry?.(delay);
    this.timer = setTimeout(() => this.open(), delay * 1000);
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(data) {
    if (this.isOpen) this.ws.send(data);
  }

  close(code = 1000) {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(code);
  }
}
