"use strict";
// Shared by the wallboard and the console: the page's strings, DOM building (text only:
// a caller's name is data, never markup), the API with the session's CSRF token, the
// live websocket with its sequence check, and clocks that count up between updates.
const CC = (() => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const strings = page.strings || {};

  function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    if (vars) {
      for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    }
    return s;
  }

  // Like t(), but an unknown key shows the raw value (a state or reason the page does
  // not know yet is still shown, untranslated, rather than hidden).
  function tOr(key, raw) {
    return Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : String(raw);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k.startsWith("data-")) node.setAttribute(k, String(v));
      else if (v === true) node.setAttribute(k, "");
      else node.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function replace(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  }

  // -- the API -----------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  function toLogin() {
    location.href = "/login?next=" + encodeURIComponent(location.pathname);
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    // The session cookie goes by itself; this header is what another site cannot send.
    if (method !== "GET") headers["X-CSRF-Token"] = page.csrf;
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch("/api/v1" + path, init);
    } catch (e) {
      throw new ApiError(0, t("error.network"), null);
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (resp.status === 401) {
      toLogin();
      throw new ApiError(401, t("error.session"), data);
    }
    if (!resp.ok) {
      const msg = data && data.error && data.error.message ? data.error.message : resp.statusText;
      throw new ApiError(resp.status, msg, data);
    }
    return data;
  }

  // -- notices -----------------------------------------------------------------------

  let noticeTimer = null;
  function notify(text, kind) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.dataset.kind = kind || "info";
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => {
      box.textContent = "";
    }, kind === "error" ? 10000 : 5000);
  }

  // Run an action from a button: the button waits, and the outcome is said either way.
  async function act(button, work, done) {
    if (button) button.disabled = true;
    try {
      const result = await work();
      if (done) notify(typeof done === "function" ? done(result) : done, "ok");
      return result;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        notify(t("error.action", { message: e.message }), "error");
      }
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // -- time ----------------------------------------------------------------------------

  // Client clock minus server clock, the smallest difference seen (the least delayed
  // message): counting from the server's `at` keeps every clock on the page in step
  // with the server's, whatever this machine's clock says.
  let skew = null;
  function noteClock(at) {
    const s = Date.parse(at);
    if (Number.isNaN(s)) return;
    const d = Date.now() - s;
    if (skew === null || d < skew) skew = d;
  }
  function serverNow() {
    return Date.now() - (skew || 0);
  }

  function mmss(seconds) {
    let s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    const x = s - m * 60;
    const two = (n) => String(n).padStart(2, "0");
    return h > 0 ? h + ":" + two(m) + ":" + two(x) : two(m) + ":" + two(x);
  }

  // A duration that was `seconds` at the server time `at`, counting up from there.
  function clock(seconds, at, attrs) {
    if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) {
      return el("span", Object.assign({ class: "clock" }, attrs || {}), "–");
    }
    const base = Date.parse(at);
    const zero = (Number.isNaN(base) ? serverNow() : base) - Number(seconds) * 1000;
    const span = el("span", Object.assign({ class: "clock", "data-zero": zero }, attrs || {}));
    span.textContent = mmss((serverNow() - zero) / 1000);
    return span;
  }

  function tick() {
    const now = serverNow();
    for (const node of document.querySelectorAll("[data-zero]")) {
      node.textContent = mmss((now - Number(node.dataset.zero)) / 1000);
    }
  }
  setInterval(tick, 250);

  function pct(x) {
    return x === null || x === undefined ? "–" : (Number(x) * 100).toFixed(1) + "%";
  }

  function secs(x) {
    return x === null || x === undefined ? "–" : t("unit.seconds", { n: Math.round(Number(x)) });
  }

  function timeOfDay(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    return d.toLocaleString(page.lang === "ja" ? "ja-JP" : "en-GB", {
      timeZone: page.timezone || "Asia/Tokyo",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
  }

  // A list under its key, or the list itself (a section may come either way).
  function listOf(value, key) {
    if (Array.isArray(value)) return value;
    if (value && Array.isArray(value[key])) return value[key];
    return [];
  }

  function caller(num, name) {
    if (name && num) return name + " (" + num + ")";
    return name || num || t("caller.unknown");
  }

  // -- the live connection ---------------------------------------------------------------

  // A snapshot, then updates and incidents numbered one by one. A gap means a message
  // was missed and the page may show something wrong: close, reconnect, and start again
  // from a fresh snapshot (as after any close).
  class Live {
    constructor(onMessage, onState) {
      this.onMessage = onMessage;
      this.onState = onState;
      this.delay = 500;
      this.failures = 0;
      this.connect();
    }

    connect() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(proto + "//" + location.host + "/api/v1/live");
      this.ws = ws;
      this.seq = null;
      this.onState("connecting");
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        if (msg.at) noteClock(msg.at);
        if (msg.type === "snapshot") {
          this.seq = msg.seq;
          this.delay = 500;
          this.failures = 0;
          this.onState("live");
        } else if (typeof msg.seq === "number") {
          // Updates and incidents share one numbering per connection.
          if (this.seq === null || msg.seq !== this.seq + 1) {
            ws.close(4000, "sequence gap");
            return;
          }
          this.seq = msg.seq;
        }
        this.onMessage(msg);
      };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.onState("reconnecting");
        this.failures += 1;
        if (this.failures >= 2) {
          // A handshake refused for an ended session looks like any close: ask once.
          api("GET", "/incidents?limit=1").catch(() => {});
        }
        setTimeout(() => this.connect(), this.delay);
        this.delay = Math.min(this.delay * 2, 5000);
      };
    }
  }

  function connState(node) {
    return (state) => {
      node.dataset.state = state;
      node.textContent = t("conn." + state);
    };
  }

  return {
    page, t, tOr, el, replace, api, ApiError, act, notify, clock, mmss, pct, secs,
    timeOfDay, listOf, caller, Live, connState, serverNow,
  };
})();
