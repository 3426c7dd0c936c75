// The live channel: a WebSocket (API Gateway WebSocket API on AWS, emulated by the local line) that pushes
// {"type": "offer" | "message" | "conversation" | "escalation", ...}. It reconnects with backoff; every (re)connect
// calls onResync so the app re-lists and merges by id — no gaps, no duplicates. Without a socket URL, or while
// it is down, the app polls instead (see app.js).

const PING_EVERY_MS = 5 * 60 * 1000; // API Gateway drops a connection idle for 10 minutes

export class LiveChannel {
  constructor({ url, token, onEvent, onResync, onStatus }) {
    this.url = url;
    this.token = token;
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onStatus = onStatus;
    this.socket = null;
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
    this.status = url ? "connecting" : "polling";
  }

  get live() {
    return this.status === "live";
  }

  #set(status) {
    if (this.status !== status) {
      this.status = status;
      this.onStatus(status);
    }
  }

  start() {
    this.stopped = false;
    if (!this.url) {
      this.#set("polling");
      return;
    }
    this.#connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.onclose = null;
      socket.close(1000, "signed out");
    }
  }

  /** Reconnect now (e.g. with a refreshed token, or when the network comes back). */
  reconnect() {
    if (this.stopped || !this.url) return;
    clearTimeout(this.retryTimer);
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.onclose = null;
      socket.close(1000, "reconnecting");
    }
    this.#connect();
  }

  #connect() {
    const token = this.token();
    if (!token) return;
    this.#set(this.attempt ? "reconnecting" : "connecting");
    const separator = this.url.includes("?") ? "&" : "?";
    let socket;
    try {
      socket = new WebSocket(`${this.url}${separator}token=${encodeURIComponent(token)}`);
    } catch {
      this.#retry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.#set("live");
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ action: "ping" }));
      }, PING_EVERY_MS);
      this.onResync();
    };
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event && typeof event.type === "string") this.onEvent(event);
    };
    socket.onclose = () => {
      clearInterval(this.pingTimer);
      if (this.socket === socket) this.socket = null;
      this.#retry();
    };
    socket.onerror = () => {
      /* onclose follows */
    };
  }

  #retry() {
    if (this.stopped) return;
    this.attempt += 1;
    this.#set("reconnecting");
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.attempt, 6)) * (0.75 + Math.random() * 0.5);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.#connect(), delay);
  }
}
