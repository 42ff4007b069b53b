"use strict";
// The supervisor's wallboard: per queue the waiting callers, the agents and today's
// figures against their targets; parked calls; the service mode and its switch.
// Everything comes from the live websocket; the buttons call the API.
(() => {
  const { page, t, tOr, el, replace, api, act, clock, pct, secs, listOf, caller, timeOfDay } = CC;
  const SECTIONS = ["queues", "agents", "parked", "today", "service_mode"];
  const state = { queues: [], agents: [], parked: [], today: null, service_mode: null, at: {} };

  document.getElementById("me").textContent = t("me", {
    name: page.me.name,
    role: t("role." + page.me.role),
  });

  // -- figures and their targets ---------------------------------------------------------

  function targetOf(fig, name) {
    return fig && fig.targets ? fig.targets[name] || null : null;
  }

  function atRisk(fig, name) {
    const tg = targetOf(fig, name);
    if (tg && tg.at_risk === true) return true;
    const r = fig ? fig.at_risk : null;
    if (Array.isArray(r)) return r.includes(name);
    if (r && typeof r === "object") return r[name] === true;
    return false;
  }

  // Red when the target is not met, amber when it is at risk, green when met.
  function level(fig, name) {
    const tg = targetOf(fig, name);
    if (tg && tg.met === false) return "bad";
    if (atRisk(fig, name)) return "risk";
    if (tg && tg.met === true) return "good";
    return "none";
  }

  // Rates under their target are good (abandonment, busy); the rest at or over it.
  const LOWER_IS_BETTER = new Set(["abandonment_rate", "busy_rate", "asa_seconds"]);

  function targetText(fig, name) {
    const tg = targetOf(fig, name);
    if (!tg || tg.target === null || tg.target === undefined) return "";
    const value = name.endsWith("_seconds") ? secs(tg.target) : pct(tg.target);
    const op = LOWER_IS_BETTER.has(name) ? "<" : "≥";
    return t("target", { op, value });
  }

  function figureTile(fig, name, label, value) {
    const lvl = level(fig, name);
    return el(
      "div",
      { class: "tile " + lvl, "data-figure": name, "data-level": lvl },
      el("div", { class: "tile-label", text: label }),
      el("div", { class: "tile-value", text: value }),
      el("div", { class: "tile-target", text: targetText(fig, name) + (lvl === "risk" ? " " + t("at_risk") : "") }),
    );
  }

  function plainTile(name, label, value) {
    return el(
      "div",
      { class: "tile none", "data-figure": name },
      el("div", { class: "tile-label", text: label }),
      el("div", { class: "tile-value" }, value),
    );
  }

  function figureTiles(fig, at) {
    if (!fig) return [el("p", { class: "empty", text: t("today.none") })];
    const sl = t("figure.service_level", { n: fig.service_level_seconds ?? 20 });
    return [
      plainTile("total_incoming", t("figure.total_incoming"), String(fig.total_incoming ?? "–")),
      plainTile("answered", t("figure.answered"), String(fig.answered ?? "–")),
      figureTile(fig, "abandonment_rate", t("figure.abandonment_rate"), pct(fig.abandonment_rate)),
      figureTile(fig, "busy_rate", t("figure.busy_rate"), pct(fig.busy_rate)),
      figureTile(fig, "service_level", sl, pct(fig.service_level)),
      figureTile(fig, "asa_seconds", t("figure.asa"), secs(fig.asa_seconds)),
      plainTile("max_wait_seconds", t("figure.max_wait"), secs(fig.max_wait_seconds)),
    ];
  }

  function todayAll() {
    const today = state.today;
    if (!today) return null;
    return today.all || (today.total_incoming !== undefined ? today : null);
  }

  function todayOf(queue) {
    if (queue.today) return queue.today;
    const by = state.today && state.today.by_queue;
    return by ? by[queue.name] || null : null;
  }

  // -- rendering -------------------------------------------------------------------------

  function renderTotals() {
    const at = state.at.today;
    const box = document.getElementById("totals");
    const waiting = state.queues.reduce((n, q) => n + (q.waiting_count ?? listOf(q.waiting).length), 0);
    const free = new Set();
    for (const q of state.queues) {
      for (const m of listOf(q.members)) if (m.state === "free") free.add(m.agent_id);
    }
    replace(
      box,
      plainTile("waiting_now", t("figure.waiting_now"), String(waiting)),
      plainTile("free_now", t("figure.free_now"), String(free.size)),
      figureTiles(todayAll(), at),
      coverageNotice(),
    );
  }

  // Today's record is incomplete (the daemon was blind and the PBX record did not cover
  // it): say so next to the figures, naming each interval, instead of hiding it.
  function coverageNotice() {
    const cov = state.today && state.today.coverage;
    if (!cov || cov.complete) return null;
    const list = listOf(cov.uncovered)
      .map((g) => `${timeOfDay(g.from)}–${timeOfDay(g.to)}`)
      .join(", ");
    return el("p", { class: "coverage-gap", role: "alert", text: t("today.gaps", { list }) });
  }

  function memberRow(m, at) {
    const st = m.state || "unavailable";
    let detail = "";
    let time = null;
    if (st === "on_call" && m.in_call_with) {
      detail = t("member.with", { caller: caller(m.in_call_with.caller_num, m.in_call_with.caller_name) });
    } else if (st === "paused" || m.paused) {
      detail = m.paused_reason ? t("member.reason", { reason: m.paused_reason }) : "";
    }
    if (m.call_seconds !== null && m.call_seconds !== undefined) time = clock(m.call_seconds, at);
    const out = el(
      "button",
      {
        type: "button",
        class: "small",
        "data-action": "logout",
        disabled: st === "logged_out",
        onclick: (ev) => logoutAgent(ev.currentTarget, m),
      },
      t("member.logout"),
    );
    return el(
      "tr",
      { "data-agent": m.agent_id, "data-state": st },
      el("td", { class: "name", text: m.name || m.agent_id }),
      el(
        "td",
        {},
        el("span", { class: "badge state-" + st, text: tOr("state." + st, st) }),
        // Time in the current state, counting on from the message's time.
        m.state_seconds === null || m.state_seconds === undefined
          ? null
          : el("span", { class: "state-time", title: t("member.state_since") }, clock(m.state_seconds, at)),
      ),
      el("td", { class: "detail", text: detail }),
      el("td", { class: "num" }, time),
      el("td", {}, out),
    );
  }

  function queueCard(q) {
    const at = state.at.queues;
    const waiting = listOf(q.waiting);
    const rows = waiting.length
      ? waiting.map((w) =>
          el(
            "tr",
            { "data-uniqueid": w.uniqueid, "data-caller": w.caller_num },
            el("td", { class: "num", text: String(w.position ?? "") }),
            el("td", { class: "caller", text: caller(w.caller_num, w.caller_name) }),
            el("td", { class: "num" }, clock(w.wait_seconds, at)),
          ),
        )
      : [el("tr", { class: "empty" }, el("td", { colspan: 3, text: t("queue.nobody_waiting") }))];
    const members = listOf(q.members);
    const longest = q.longest_wait_seconds;
    const count = q.waiting_count ?? waiting.length;
    return el(
      "article",
      { class: "queue" + (count > 0 ? " has-waiting" : ""), "data-queue": q.name },
      el(
        "header",
        {},
        el("h2", {}, q.name, q.number ? el("small", { text: " " + q.number }) : null),
        el(
          "div",
          { class: "queue-now" },
          el("span", { class: "big", "data-field": "waiting_count", text: String(count) }),
          el("span", { class: "unit", text: t("queue.waiting") }),
          el("span", { class: "longest" }, t("queue.longest") + " ", longest ? clock(longest, at, { "data-field": "longest" }) : "–"),
        ),
      ),
      el("div", { class: "tiles compact" }, figureTiles(todayOf(q), state.at.today).slice(2)),
      el(
        "table",
        { class: "grid waiting" },
        el("caption", { text: t("queue.waiting_callers") }),
        el("thead", {}, el("tr", {}, el("th", { text: t("queue.position") }), el("th", { text: t("caller") }), el("th", { text: t("queue.wait") }))),
        el("tbody", {}, rows),
      ),
      el(
        "table",
        { class: "grid members" },
        el("caption", { text: t("queue.agents") }),
        el(
          "thead",
          {},
          el("tr", {}, el("th", { text: t("agent") }), el("th", { text: t("member.state") }), el("th", { text: t("member.detail") }), el("th", { text: t("member.time") }), el("th", {})),
        ),
        el("tbody", {}, members.length ? members.map((m) => memberRow(m, at)) : el("tr", { class: "empty" }, el("td", { colspan: 5, text: t("queue.no_agents") }))),
      ),
    );
  }

  function renderQueues() {
    const box = document.getElementById("queues");
    if (!state.queues.length) {
      replace(box, el("p", { class: "empty", text: t("queues.none") }));
      return;
    }
    replace(box, state.queues.map(queueCard));
  }

  function renderParked() {
    const at = state.at.parked;
    const body = document.querySelector("#parked tbody");
    const rows = state.parked.map((p) =>
      el(
        "tr",
        { "data-slot": p.slot },
        el("td", { class: "num", text: p.slot }),
        el("td", { class: "caller", text: caller(p.caller_num, p.caller_name) }),
        el("td", { text: p.parker || "" }),
        el("td", { class: "num" }, clock(p.parked_seconds, at)),
        el("td", { class: "num", text: p.timeout ? secs(p.timeout) : "–" }),
      ),
    );
    replace(body, rows.length ? rows : el("tr", { class: "empty" }, el("td", { colspan: 5, text: t("parked.none") })));
  }

  function renderMode() {
    const m = state.service_mode || {};
    const box = document.getElementById("mode");
    const mode = m.mode || "";
    box.dataset.mode = mode;
    document.getElementById("mode-state").textContent = mode ? tOr("mode.state." + mode, mode) : "–";
    const parts = [];
    if (m.reason) parts.push(tOr("mode.reason." + m.reason, m.reason));
    if (m.until) parts.push(t("mode.until", { time: timeOfDay(m.until) }));
    if (m.note) parts.push(m.note);
    document.getElementById("mode-detail").textContent = parts.join(" · ");
    // Not managed by this daemon (service.manage_mode = false): nothing to switch here.
    const off = m.managed === false || !mode;
    document.getElementById("mode-close").disabled = off || mode === "closed";
    document.getElementById("mode-open").disabled = off || mode === "open";
    document.getElementById("mode-auto").disabled = off || !m.override;
    if (m.managed === false) parts.push(t("mode.unmanaged"));
    document.getElementById("mode-detail").textContent = parts.join(" · ");
  }

  const RENDER = {
    queues: () => {
      renderQueues();
      renderTotals();
    },
    agents: () => {},
    parked: renderParked,
    today: () => {
      renderTotals();
      renderQueues();
    },
    service_mode: renderMode,
  };

  // -- live data ---------------------------------------------------------------------------

  function take(section, value) {
    if (section === "queues") return listOf(value, "queues");
    if (section === "agents") return listOf(value, "agents");
    if (section === "parked") return listOf(value, "parked");
    return value;
  }

  function onMessage(msg) {
    if (msg.type !== "snapshot" && msg.type !== "update") return;
    const data = msg.data || {};
    const changed = msg.type === "snapshot" ? SECTIONS : SECTIONS.filter((s) => s in data);
    for (const s of changed) {
      if (s in data) state[s] = take(s, data[s]);
      state.at[s] = msg.at;
    }
    const done = new Set();
    for (const s of changed) {
      if (!done.has(s)) RENDER[s]();
      done.add(s);
    }
  }

  // -- actions -----------------------------------------------------------------------------

  function setMode(button, mode) {
    if (mode === "closed" && !window.confirm(t("mode.confirm_close"))) return;
    act(button, () => api("PUT", "/service-mode", { mode }), t("mode.done")).then((res) => {
      if (res && res.mode) {
        state.service_mode = res;
        renderMode();
      }
    });
  }

  function logoutAgent(button, m) {
    if (!window.confirm(t("member.confirm_logout", { name: m.name || m.agent_id }))) return;
    const name = m.name || m.agent_id;
    act(button, () => api("POST", "/agents/" + encodeURIComponent(m.agent_id) + "/logout", {}), (res) =>
      // Nothing left: a member written in queues.conf stays (the PBX's configuration).
      res && Array.isArray(res.left) && res.left.length === 0 ? t("member.not_logged_out", { name }) : t("member.logged_out", { name }),
    );
  }

  document.getElementById("mode-close").addEventListener("click", (ev) => setMode(ev.currentTarget, "closed"));
  document.getElementById("mode-open").addEventListener("click", (ev) => setMode(ev.currentTarget, "open"));
  document.getElementById("mode-auto").addEventListener("click", (ev) => {
    act(ev.currentTarget, () => api("DELETE", "/service-mode/override"), t("mode.done")).then((res) => {
      if (res && res.mode) {
        state.service_mode = res;
        renderMode();
      }
    });
  });

  renderMode();
  renderTotals();
  renderQueues();
  renderParked();
  new CC.Live(onMessage, CC.connState(document.getElementById("conn")));
})();
