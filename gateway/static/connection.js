// The page's one WebSocket to the gateway (/ws/v1): auth, subscriptions that resume from
// their own last event id, heartbeats with round-trip time, reconnects with backoff.

/**
 * Backoff as testfleet/backoff.py computes it: after n failures in a row the ceiling is
 * firstS * 2^(n-1), capped at maxS, and the delay is drawn from the upper (1 - jitter)
 * part of it; a server's retryAfter wins (capped at maxS).
 */
export function backoffDelayS(failures, { firstS = 0.5, maxS = 15, jitter = 0.5, rand = Math.random } = {}, retryAfterS = null) {
  if (retryAfterS !== null && retryAfterS !== undefined) return Math.max(0, Math.min(retryAfterS, maxS));
  const ceiling = Math.min(maxS, firstS * 2 ** Math.max(0, failures - 1));
  return ceiling * (1 - jitter * rand());
}

const HEARTBEAT_MS = 5000;
const NO_RECONNECT = new Set([3000]); // auth failed: a new key is needed, not a retry

export class Connection {
  /**
   * url: ws(s)://host/ws/v1; key: the API key (sent only in the auth message);
   * on: {status(info), auth(response), events(name, events), gap(name, payload), authFailed(message)}.
   */
  constructor(url, key, on) {
    this.url = url;
    this.key = key;
    this.on = on;
    this.ws = null;
    this.state = "offline";
    this.failures = 0;
    this.attempts = 0;
    this.lastError = null;
    this.rttMs = null;
    this.nextTryAt = null;
    this.subs = new Map(); // name -> {name, channel, filters, batch, since, cursor, sid}
    this.bySid = new Map();
    this.pings = new Map();
    this.seq = 0;
    this.stopped = false;
    this.timer = null;
    this.beat = null;
    this.permissions = [];
  }

  start() {
    this.stopped = false;
    this._open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.beat);
    if (this.ws) this.ws.close(1000, "page closed");
    this._set("offline");
  }

  /** Drop the socket now (as a network failure would) and reconnect by the usual rule. */
  drop() {
    if (this.ws) this.ws.close(4000, "dropped by the page");
  }

  subscribe(name, { channel, filters = {}, since = null, batch = { size: 200, windowMs: 50 } }) {
    const old = this.subs.get(name);
    if (old) this.unsubscribe(name);
    const sub = { name, channel, filters, batch, since, cursor: null, sid: null };
    this.subs.set(name, sub);
    if (this.state === "connected") this._sendSubscribe(sub);
  }

  unsubscribe(name) {
    const sub = this.subs.get(name);
    if (!sub) return;
    this.subs.delete(name);
    if (sub.sid) {
      this.bySid.delete(sub.sid);
      if (this.state === "connected") this._send({ type: "unsubscribe", id: this._id("u"), payload: { subscriptionId: sub.sid } });
    }
  }

  /** The id of the last event subscription `name` delivered (null before any; undefined
   * when there is no such subscription). */
  cursor(name) {
    const sub = this.subs.get(name);
    return sub ? sub.cursor : undefined;
  }

  info() {
    return {
      state: this.state, rttMs: this.rttMs, attempts: this.attempts, lastError: this.lastError,
      nextTryAt: this.nextTryAt,
    };
  }

  // --- internals ---------------------------------------------------------------------

  _id(prefix) {
    this.seq += 1;
    return `${prefix}${this.seq}`;
  }

  _set(state) {
    this.state = state;
    this.on.status(this.info());
  }

  _send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  _open() {
    clearTimeout(this.timer);
    this.nextTryAt = null;
    this._set(this.attempts ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.lastError = String(err && err.message ? err.message : err);
      this._retry(null);
      return;
    }
    this.ws = ws;
    ws.onopen = () => this._send({ type: "auth", id: this._id("a"), payload: { apiKey: this.key } });
    ws.onmessage = (e) => this._message(e.data);
    ws.onerror = () => {
      this.lastError = navigator.onLine === false ? "the browser is offline" : "the connection failed";
    };
    ws.onclose = (e) => this._closed(ws, e);
  }

  _closed(ws, e) {
    if (ws !== this.ws) return;
    clearInterval(this.beat);
    this.ws = null;
    for (const sub of this.subs.values()) sub.sid = null;
    this.bySid.clear();
    this.pings.clear();
    if (e.code !== 1000 && e.code !== 4000 && e.reason) this.lastError = `closed ${e.code}: ${e.reason}`;
    else if (e.code !== 1000 && e.code !== 4000 && !this.lastError) this.lastError = `closed ${e.code}`;
    if (this.stopped) return;
    if (NO_RECONNECT.has(e.code)) {
      this._set("offline");
      this.on.authFailed(this.lastError || "authentication failed");
      return;
    }
    this._retry(this.retryAfterS);
  }

  _retry(retryAfterS) {
    this.failures += 1;
    this.attempts += 1;
    this.retryAfterS = null;
    const delayS = backoffDelayS(this.failures, undefined, retryAfterS);
    this.nextTryAt = Date.now() + delayS * 1000;
    this._set(navigator.onLine === false ? "offline" : "reconnecting");
    this.timer = setTimeout(() => this._open(), delayS * 1000);
  }

  _sendSubscribe(sub) {
    const options = { batch: sub.batch };
    const since = sub.cursor || sub.since;
    if (since) options.since = since;
    const id = this._id(`s:${sub.name}:`);
    sub.request = id;
    sub.liveFrom = Date.now(); // events stamped before this are history, not live latency
    this._send({ type: "subscribe", id, payload: { channel: sub.channel, filters: sub.filters, options } });
  }

  _message(raw) {
    let m;
    try {
      m = JSON.parse(raw);
    } catch {
      this.lastError = "the gateway sent something that is not JSON";
      return;
    }
    this.on.message();
    switch (m.type) {
      case "batch":
        this._events(this.bySid.get(m.subscriptionId), m.events || []);
        break;
      case "auth_response":
        this.failures = 0;
        this.permissions = (m.payload && m.payload.permissions) || [];
        this._set("connected");
        this.on.auth(m.payload || {});
        for (const sub of this.subs.values()) this._sendSubscribe(sub);
        clearInterval(this.beat);
        this.beat = setInterval(() => this._heartbeat(), HEARTBEAT_MS);
        this._heartbeat();
        break;
      case "subscription_confirmed": {
        const sub = [...this.subs.values()].find((s) => s.request === m.id);
        if (sub && m.payload) {
          sub.sid = m.payload.subscriptionId;
          this.bySid.set(sub.sid, sub);
        } else if (!sub && m.payload && m.payload.subscriptionId) {
          // Replaced before it was confirmed: end it, or its events would arrive twice.
          this._send({ type: "unsubscribe", id: this._id("u"), payload: { subscriptionId: m.payload.subscriptionId } });
        }
        break;
      }
      case "heartbeat":
        this._send({ type: "heartbeat_ack", id: this._id("k") });
        break;
      case "heartbeat_ack": {
        const sent = this.pings.get(m.id);
        if (sent !== undefined) {
          this.pings.delete(m.id);
          this.rttMs = performance.now() - sent;
          this.on.status(this.info());
        }
        break;
      }
      case "gap": {
        const sub = this.bySid.get(m.subscriptionId);
        if (sub) this.on.gap(sub.name, m.payload || {});
        break;
      }
      case "error":
        this._error(m);
        break;
      default:
        if (m.id && m.payload && m.runId !== undefined) this._events(this._byType(m.type), [m]);
    }
  }

  _byType(type) {
    // A single (unbatched) event names no subscription; ours are batched, so this is rare.
    for (const sub of this.subs.values()) if (sub.types && sub.types.has(type)) return sub;
    return undefined;
  }

  _events(sub, events) {
    if (!sub || !events.length) return;
    sub.cursor = events[events.length - 1].id;
    this.on.events(sub.name, events, sub.liveFrom || 0);
  }

  _heartbeat() {
    const id = this._id("h");
    this.pings.set(id, performance.now());
    if (this.pings.size > 10) this.pings.delete(this.pings.keys().next().value);
    this._send({ type: "heartbeat", id });
  }

  _error(m) {
    const p = m.payload || {};
    this.lastError = `${p.code || "ERROR"}: ${p.message || ""}`.trim();
    if (typeof p.retryAfter === "number") this.retryAfterS = p.retryAfter;
    if (p.code === "PERMISSION_DENIED") {
      const sub = [...this.subs.values()].find((s) => s.request === m.id);
      if (sub) this.subs.delete(sub.name);
    }
    this.on.status(this.info());
  }
}
