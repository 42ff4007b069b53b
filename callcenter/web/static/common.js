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

  // -- the live state: a snapshot, then deltas (callcenter/web/live_delta.py) ----------------

  // The server's schema (live_delta.SCHEMA) and ticking keys (views.TICKING): a unit test
  // checks that these two lines hold the same.
  const LIVE_SCHEMA = {"lists": {"queues": ["name"], "queues/*/waiting": ["uniqueid"], "queues/*/members": ["agent_id", "name"], "agents": ["id"], "parked": ["slot"]}, "positions": {"queues/*/waiting": "position"}, "own_units": ["queues/*/today"], "split": ["today", "today/by_queue"], "same": {"queues/*/today": ["today", "by_queue", "$1"]}, "derived": {"queues/*": {"waiting_count": {"$count": "waiting"}, "longest_wait_seconds": {"$max": ["waiting", "wait_seconds"]}}}};
  const TICKING = new Set(["call_seconds", "longest_wait_seconds", "parked_seconds", "seconds", "state_seconds", "wait_seconds"]);

  function patternOf(path, patterns) {
    return patterns.find((p) => {
      const parts = p.split("/");
      return parts.length === path.length && parts.every((x, i) => x === "*" || x === path[i]);
    });
  }

  function itemKey(item, fields) {
    for (let i = 0; i < fields.length; i++) {
      const v = item[fields[i]];
      if (v !== null && v !== undefined && typeof v !== "object") return (i ? "~" : "") + String(v);
    }
    return null;
  }

  // The state as units (path -> value, with the `at` its clocks are as of) and containers
  // (path -> keys in order): a snapshot is cut up as the server does it, a delta changes
  // units by their keys, and the sections are put back together for the page.
  class LiveState {
    constructor(data, at) {
      this.units = new Map();
      this.containers = new Map();
      this.containers.set("[]", { path: [], keys: Object.keys(data) });
      for (const [s, v] of Object.entries(data)) this.walk([s], v, at, data);
    }

    keyed(path, value) {
      const pattern = patternOf(path, Object.keys(LIVE_SCHEMA.lists));
      if (pattern === undefined || !Array.isArray(value)) return null;
      const position = LIVE_SCHEMA.positions[pattern];
      const out = [];
      const seen = new Set();
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        if (!item || typeof item !== "object" || Array.isArray(item)) return null;
        if (position !== undefined && item[position] !== i + 1) return null;
        const key = itemKey(item, LIVE_SCHEMA.lists[pattern]);
        if (key === null || seen.has(key)) return null;
        seen.add(key);
        out.push([key, item]);
      }
      return { pairs: out, position };
    }

    // A unit that is, as a rule, another's copy (a queue's today): a reference to it.
    same(path, value, root) {
      const pattern = patternOf(path, Object.keys(LIVE_SCHEMA.same));
      if (pattern === undefined || value === null || value === undefined) return value;
      const ref = LIVE_SCHEMA.same[pattern].map((k) => (k.startsWith("$") ? path[Number(k.slice(1))] : k));
      let there = root;
      for (const k of ref) there = there && typeof there === "object" ? there[k] : undefined;
      return there !== undefined && JSON.stringify(there) === JSON.stringify(value) ? { $same: ref } : value;
    }

    // What a rule of LIVE_SCHEMA.derived gives for an item (a count, a longest clock).
    static derived(rule, item) {
      if ("$count" in rule) return Array.isArray(item[rule.$count]) ? item[rule.$count].length : null;
      const [name, key] = rule.$max;
      if (!Array.isArray(item[name])) return null;
      const xs = item[name].map((i) => i && i[key]).filter((v) => typeof v === "number");
      return xs.length ? Math.max(...xs) : 0.0;
    }

    walk(path, value, at, root) {
      const keyed = this.keyed(path, value);
      if (keyed) {
        this.containers.set(JSON.stringify(path), { path, keys: keyed.pairs.map(([k]) => k) });
        for (const [key, item] of keyed.pairs) {
          const here = path.concat([key]);
          const head = {};
          const rules = LIVE_SCHEMA.derived[patternOf(here, Object.keys(LIVE_SCHEMA.derived))] || {};
          for (const [name, v] of Object.entries(item)) {
            const sub = here.concat([name]);
            const rule = rules[name];
            if (rule !== undefined && v === LiveState.derived(rule, item)) {
              head[name] = rule;
              continue;
            }
            if (name === keyed.position) continue;
            if (patternOf(sub, LIVE_SCHEMA.own_units) !== undefined) this.setUnit(sub, this.same(sub, v, root), at);
            else if (patternOf(sub, Object.keys(LIVE_SCHEMA.lists)) !== undefined) this.walk(sub, v, at, root);
            else head[name] = v;
          }
          this.setUnit(here, head, at);
        }
        return;
      }
      if (value && typeof value === "object" && !Array.isArray(value) && patternOf(path, LIVE_SCHEMA.split) !== undefined) {
        this.containers.set(JSON.stringify(path), { path, keys: Object.keys(value) });
        for (const [k, v] of Object.entries(value)) this.walk(path.concat([k]), v, at, root);
        return;
      }
      this.setUnit(path, value, at);
    }

    setUnit(path, value, at) {
      this.units.set(JSON.stringify(path), { path, value, at });
    }

    // A delta's changes, in order (live_delta.apply); the sections they touched.
    apply(changes, at) {
      const touched = new Set();
      for (const c of changes) {
        const path = c.path;
        touched.add(path[0]);
        const parent = path.length ? this.containers.get(JSON.stringify(path.slice(0, -1))) : undefined;
        const last = path[path.length - 1];
        if (c.op === "remove") {
          for (const store of [this.units, this.containers]) {
            for (const [k, u] of store) {
              if (u.path.length >= path.length && path.every((x, i) => u.path[i] === x)) store.delete(k);
            }
          }
          if (parent) parent.keys = parent.keys.filter((k) => k !== last);
        } else if (c.op === "set") {
          this.setUnit(path, c.value, at);
          if (parent && !parent.keys.includes(last)) parent.keys.push(last);
        } else if (c.op === "merge") {
          const unit = this.units.get(JSON.stringify(path));
          this.setUnit(path, Object.assign({}, unit ? unit.value : {}, c.value), at);
        } else if (c.op === "order") {
          this.containers.set(JSON.stringify(path), { path, keys: c.keys.slice() });
        }
      }
      // A section holding another's copy changes with it (queues' today with today).
      for (const [pattern, ref] of Object.entries(LIVE_SCHEMA.same)) {
        if (touched.has(ref[0])) touched.add(pattern.split("/")[0]);
      }
      return touched;
    }

    // The sections as the server has them, each clock counted on to `at`.
    sections(names, at) {
      const now = Date.parse(at);
      const children = new Map();
      for (const store of [this.units, this.containers]) {
        for (const u of store.values()) {
          if (!u.path.length) continue;
          const up = JSON.stringify(u.path.slice(0, -1));
          if (!children.has(up)) children.set(up, []);
          children.get(up).push(u.path);
        }
      }
      const age = (value, dt) => {
        if (Array.isArray(value)) return value.map((v) => age(v, dt));
        if (!value || typeof value !== "object") return value;
        const out = {};
        for (const [k, v] of Object.entries(value)) {
          out[k] = TICKING.has(k) && typeof v === "number" ? Math.round((v + dt) * 1000) / 1000 : age(v, dt);
        }
        return out;
      };
      const build = (path) => {
        const key = JSON.stringify(path);
        const box = this.containers.get(key);
        if (box) {
          const parts = box.keys.map((k) => build(path.concat([k])));
          const pattern = patternOf(path, Object.keys(LIVE_SCHEMA.lists));
          if (pattern === undefined) return Object.fromEntries(box.keys.map((k, i) => [k, parts[i]]));
          const position = LIVE_SCHEMA.positions[pattern];
          if (position !== undefined) parts.forEach((p, i) => { p[position] = i + 1; });
          return parts;
        }
        const unit = this.units.get(key);
        if (!unit) return undefined;
        const v0 = unit.value;
        if (v0 && typeof v0 === "object" && !Array.isArray(v0) && Object.keys(v0).length === 1 && Array.isArray(v0.$same)) {
          return build(v0.$same);
        }
        const dt = (now - Date.parse(unit.at)) / 1000;
        let value = age(unit.value, Number.isNaN(dt) ? 0 : Math.max(0, dt));
        if (value && typeof value === "object" && !Array.isArray(value)) {
          for (const sub of children.get(key) || []) value[sub[sub.length - 1]] = build(sub);
          const rules = LIVE_SCHEMA.derived[patternOf(path, Object.keys(LIVE_SCHEMA.derived))] || {};
          for (const [name, rule] of Object.entries(rules)) {
            if (JSON.stringify(value[name]) === JSON.stringify(rule)) value[name] = LiveState.derived(rule, value);
          }
        }
        return value;
      };
      const out = {};
      for (const name of names) {
        const v = build([name]);
        if (v !== undefined) out[name] = v;
      }
      return out;
    }
  }

  // -- the live connection ---------------------------------------------------------------

  // A snapshot, then deltas and incidents numbered one by one. The page is handed the
  // sections whole, as `{type: "snapshot"|"update", seq, at, data: {sections}}` (an update:
  // the sections a delta touched, put together from the state it was applied to), and
  // incidents as they come. A gap means a message was missed: ask for a snapshot (if
  // that fails too, close, reconnect, and start again from a fresh one).
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
          this.resyncing = false;
          this.delay = 500;
          this.failures = 0;
          this.state = new LiveState(msg.data || {}, msg.at);
          this.onState("live");
        } else if (typeof msg.seq === "number") {
          // Deltas and incidents share one numbering per connection.
          if (!this.resyncing && (this.seq === null || msg.seq !== this.seq + 1)) {
            // Missed something: what we hold may be wrong. Ask for a snapshot; until it
            // comes, deltas are skipped (incidents are still shown).
            this.resyncing = true;
            this.state = null;
            ws.send(JSON.stringify({ type: "snapshot" }));
          }
          this.seq = msg.seq;
        }
        if (msg.type === "delta") {
          if (!this.state) return; // waiting for the snapshot asked for
          const touched = this.state.apply(msg.changes || [], msg.at);
          if (!touched.size) return;
          const data = this.state.sections([...touched], msg.at);
          this.onMessage({ type: "update", seq: msg.seq, at: msg.at, data });
          return;
        }
        if (msg.type === "snapshot") {
          const data = this.state.sections(Object.keys(msg.data || {}), msg.at);
          this.onMessage({ type: "snapshot", seq: msg.seq, at: msg.at, data });
          return;
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
    timeOfDay, listOf, caller, Live, LiveState, connState, serverNow,
  };
})();
