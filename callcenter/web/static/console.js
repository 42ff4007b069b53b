"use strict";
// The agent's console: log in to the queues, pause with a reason, resume; the call now,
// park it, pick a parked call up, transfer blind or attended; the incident of the call
// just answered pops up (pushed on the live websocket) with the caller's past incidents,
// and is worked from here (start, escalate, progress report, resolve).
(() => {
  const { page, t, tOr, el, replace, api, act, notify, clock, listOf, caller, timeOfDay } = CC;
  const $ = (id) => document.getElementById(id);
  const agentId = page.agent_id || null;
  const state = { agent: null, parked: [], at: {}, targets: [], incident: null, transfer: false };
  const enc = encodeURIComponent;
  const agentPath = () => "/agents/" + enc(agentId);

  $("me").textContent = t("me", { name: page.me.name, role: t("role." + page.me.role) });
  if (agentId) {
    // Keep the agent when the language is switched (a supervisor's view of an agent).
    $("lang-link").href = "?lang=" + (page.lang === "ja" ? "en" : "ja") + "&agent=" + enc(agentId);
  }

  // -- a supervisor without an agent chosen: pick one --------------------------------------

  async function pickAgent() {
    $("pick-agent").hidden = false;
    const data = await act(null, () => api("GET", "/agents"));
    const select = $("agent-select");
    replace(
      select,
      listOf(data, "agents").map((a) => el("option", { value: a.id, text: (a.name || a.id) + " (" + a.id + ")" })),
    );
    $("agent-open").addEventListener("click", () => {
      if (select.value) location.href = "/console?agent=" + enc(select.value);
    });
  }

  // -- the agent ---------------------------------------------------------------------------

  function renderAgent() {
    const a = state.agent;
    if (!a) return;
    const at = state.at.agent;
    $("agent-name").textContent = (a.name || a.id) + " (" + a.id + ")";
    const st = a.state || "unavailable";
    const badge = $("agent-state");
    badge.dataset.state = st;
    badge.className = "badge state-" + st;
    badge.textContent = tOr("state." + st, st);
    const queues = listOf(a.queues).map((q) => (typeof q === "string" ? q : q.name || q.queue || ""));
    $("agent-queues").textContent = t("console.queues", { queues: queues.join(", ") || "–" });
    $("agent-pause").textContent = a.paused ? t("member.reason", { reason: a.paused_reason || "–" }) : "";
    $("btn-resume").disabled = !a.paused;
    const call = a.on_call;
    const now = $("call-now");
    if (call) {
      replace(
        now,
        el("span", { class: "caller", "data-linkedid": call.linkedid || "", text: caller(call.caller_num, call.caller_name) }),
        " ",
        clock(call.seconds, at, { id: "call-clock" }),
      );
    } else {
      now.textContent = t("console.no_call");
    }
    $("btn-park").disabled = !call;
    $("btn-transfer").disabled = !call;
    $("btn-complete").disabled = !state.transfer;
  }

  function renderParked() {
    const at = state.at.parked;
    const rows = state.parked.map((p) =>
      el(
        "tr",
        { "data-slot": p.slot },
        el("td", { class: "num", text: p.slot }),
        el("td", { class: "caller", text: caller(p.caller_num, p.caller_name) }),
        el("td", { text: p.parker || "" }),
        el("td", { class: "num" }, clock(p.parked_seconds, at)),
        el(
          "td",
          {},
          el("button", { type: "button", class: "small", "data-action": "pickup", onclick: (ev) => pickup(ev.currentTarget, p.slot) }, t("console.pickup")),
        ),
      ),
    );
    replace($("parked").querySelector("tbody"), rows.length ? rows : el("tr", { class: "empty" }, el("td", { colspan: 5, text: t("parked.none") })));
  }

  // -- live data ---------------------------------------------------------------------------

  function onMessage(msg) {
    const data = msg.data || {};
    if (msg.type === "incident") {
      const incident = data.incident || data;
      if (!incident || (incident.agent_id && incident.agent_id !== agentId)) return;
      showIncident(incident, true);
      loadIncidents();
      return;
    }
    if (msg.type !== "snapshot" && msg.type !== "update") return;
    // A call-back's result, or a caller put on the list, comes with an update: look again
    // (at most every few seconds; the list is not pushed).
    if (Date.now() - followupsLoaded > 3000) loadFollowups();
    if ("agents" in data) {
      const mine = listOf(data.agents, "agents").find((a) => a.id === agentId);
      if (mine) {
        state.agent = mine;
        state.at.agent = msg.at;
        if (!mine.on_call) state.transfer = false;
        renderAgent();
      }
    }
    if ("parked" in data) {
      state.parked = listOf(data.parked, "parked");
      state.at.parked = msg.at;
      renderParked();
    }
  }

  // -- agent actions -----------------------------------------------------------------------

  function pauseReason() {
    const select = $("pause-reason");
    const label = select.options[select.selectedIndex].textContent.trim();
    const text = $("pause-text").value.trim();
    if (select.value === "other") return text;
    return text ? label + ": " + text : label;
  }

  function pickup(button, slot) {
    act(button, () => api("POST", agentPath() + "/pickup", { slot }), t("console.picking_up", { slot }));
  }

  // An empty list back: nothing changed (already in; or a member fixed in queues.conf).
  const changed = (key, done) => (res) => (res && Array.isArray(res[key]) && res[key].length === 0 ? t("console.unchanged") : t(done));
  $("btn-login").addEventListener("click", (ev) =>
    act(ev.currentTarget, () => api("POST", agentPath() + "/login", {}), changed("joined", "console.logged_in")));
  $("btn-logout").addEventListener("click", (ev) =>
    act(ev.currentTarget, () => api("POST", agentPath() + "/logout", {}), changed("left", "console.logged_out")));
  $("btn-pause").addEventListener("click", (ev) => {
    const reason = pauseReason();
    if (!reason) {
      notify(t("console.reason_needed"), "error");
      return;
    }
    act(ev.currentTarget, () => api("POST", agentPath() + "/pause", { reason }), t("console.paused", { reason }));
  });
  $("btn-resume").addEventListener("click", (ev) =>
    act(ev.currentTarget, () => api("POST", agentPath() + "/resume", {}), t("console.resumed")));
  $("btn-park").addEventListener("click", (ev) =>
    act(ev.currentTarget, () => api("POST", agentPath() + "/park", {}), (res) => t("console.parked", { slot: (res && (res.slot || (res.parked && res.parked.slot))) || "?" })));
  $("btn-transfer").addEventListener("click", (ev) => {
    const kind = $("xfer-kind").value;
    const to = $("xfer-number").value.trim() || $("xfer-target").value;
    if (!to) {
      notify(t("transfer.target_needed"), "error");
      return;
    }
    act(ev.currentTarget, () => api("POST", agentPath() + "/transfer", { kind, to }), t("transfer.started", { to })).then((res) => {
      if (res !== undefined && kind === "attended") {
        state.transfer = true;
        $("btn-complete").disabled = false;
      }
    });
  });
  $("btn-complete").addEventListener("click", (ev) =>
    act(ev.currentTarget, () => api("POST", agentPath() + "/transfer/complete", {}), t("transfer.completed")).then((res) => {
      if (res !== undefined) state.transfer = false;
    }));

  async function loadTargets() {
    const data = await act(null, () => api("GET", "/transfer-targets"));
    state.targets = listOf(data, "targets");
    replace(
      $("xfer-target"),
      el("option", { value: "", text: t("transfer.pick_target") }),
      state.targets.map((tg) => el("option", { value: tg.name || tg.number, text: (tg.label || tg.name) + " (" + tg.number + ")" })),
    );
    replace($("inc-escalate-list"), state.targets.map((tg) => el("option", { value: tg.name, text: tg.label || tg.name })));
  }

  // -- the follow-up list: callers not reached yet, called back in one click -------------------

  let followupsLoaded = 0;
  async function loadFollowups() {
    followupsLoaded = Date.now();
    const data = await act(null, () => api("GET", "/followups?limit=50"));
    const list = listOf(data, "followups");
    const rows = list.map((f) => {
      const pending = !!f.pending;
      const result = el(
        "select",
        { class: "small", "data-role": "result", "aria-label": t("followup.result") },
        ["reached", "no_answer", "wrong_number"].map((r) => el("option", { value: r, text: t("followup.result." + r) })),
      );
      return el(
        "tr",
        { "data-followup": f.id, "data-number": f.caller_num },
        el("td", { class: "caller", text: caller(f.caller_num, f.caller_name) }),
        el("td", { text: tOr("followup.reason." + f.reason, f.reason) }),
        el("td", { text: timeOfDay(f.opened_at) }),
        el("td", { class: "num", text: String(f.calls) }),
        el("td", { "data-role": "last", text: pending ? t("followup.ringing") : f.last_result ? tOr("followup.result." + f.last_result, f.last_result) : "–" }),
        el(
          "td",
          {},
          el("button", { type: "button", class: "small primary", "data-action": "callback", disabled: pending || null, onclick: (ev) => callBack(ev.currentTarget, f) }, t("followup.call_back")),
          " ",
          result,
          " ",
          el("button", { type: "button", class: "small", "data-action": "result", onclick: (ev) => setResult(ev.currentTarget, f, result.value) }, t("followup.record")),
        ),
      );
    });
    replace($("followups").querySelector("tbody"), rows.length ? rows : el("tr", { class: "empty" }, el("td", { colspan: 6, text: t("followup.none") })));
  }

  function callBack(button, f) {
    act(button, () => api("POST", "/followups/" + enc(f.id) + "/callback", { agent_id: agentId }), t("followup.calling", { caller: caller(f.caller_num, f.caller_name) })).then(loadFollowups);
  }

  function setResult(button, f, result) {
    act(button, () => api("POST", "/followups/" + enc(f.id) + "/result", { result }), t("followup.recorded", { result: t("followup.result." + result) })).then(loadFollowups);
  }

  // -- incidents ---------------------------------------------------------------------------

  async function loadIncidents() {
    const data = await act(null, () => api("GET", "/incidents?open=true&agent_id=" + enc(agentId)));
    const list = listOf(data, "incidents");
    const rows = list.map((i) =>
      el(
        "tr",
        { "data-incident": i.id },
        el("td", { class: "num", text: String(i.id) }),
        el("td", { text: timeOfDay(i.received_at) }),
        el("td", { class: "caller", text: caller(i.caller_number, i.caller_name) }),
        el("td", { text: tOr("status." + i.status, i.status) }),
        el("td", {}, el("button", { type: "button", class: "small", onclick: () => openIncident(i.id) }, t("incident.open"))),
      ),
    );
    replace($("my-incidents").querySelector("tbody"), rows.length ? rows : el("tr", { class: "empty" }, el("td", { colspan: 5, text: t("incident.none") })));
  }

  async function openIncident(id) {
    const data = await act(null, () => api("GET", "/incidents/" + enc(id)));
    if (data && data.incident) showIncident(data.incident, false);
  }

  function fact(label, value) {
    return [el("dt", { text: label }), el("dd", { text: value === null || value === undefined || value === "" ? "–" : String(value) })];
  }

  function renderIncident() {
    const i = state.incident;
    if (!i) return;
    $("inc-title").textContent = t("incident.title_id", { id: i.id });
    replace(
      $("inc-facts"),
      fact(t("caller"), caller(i.caller_number, i.caller_name)),
      fact(t("incident.status"), tOr("status." + i.status, i.status)),
      fact(t("incident.queue"), i.queue),
      fact(t("incident.received"), timeOfDay(i.received_at)),
      fact(t("incident.escalated_to"), i.escalated_to),
      fact(t("incident.notes"), i.notes),
    );
    $("inc-facts").dataset.incident = i.id;
    const open = ["received", "in_progress", "escalated", "escalation_answered"].includes(i.status);
    $("inc-start").disabled = i.status !== "received";
    $("inc-escalate").disabled = !["received", "in_progress"].includes(i.status) || !!i.escalated_at;
    $("inc-progress").disabled = !(open || i.status === "resolved");
    $("inc-resolve").disabled = !open;
  }

  async function loadHistory(i) {
    const body = $("inc-history").querySelector("tbody");
    if (!i.caller_number) {
      replace(body, el("tr", { class: "empty" }, el("td", { colspan: 5, text: t("incident.no_history") })));
      return;
    }
    const data = await act(null, () => api("GET", "/incidents?limit=20&caller_number=" + enc(i.caller_number)));
    const past = listOf(data, "incidents").filter((p) => p.id !== i.id);
    const rows = past.map((p) =>
      el(
        "tr",
        { "data-incident": p.id },
        el("td", { class: "num", text: String(p.id) }),
        el("td", { text: timeOfDay(p.received_at) }),
        el("td", { text: tOr("status." + p.status, p.status) }),
        el("td", { text: p.category || "" }),
        el("td", { class: "notes", text: p.notes || "" }),
      ),
    );
    replace(body, rows.length ? rows : el("tr", { class: "empty" }, el("td", { colspan: 5, text: t("incident.no_history") })));
  }

  function showIncident(incident, fromCall) {
    state.incident = incident;
    $("inc-note").value = "";
    renderIncident();
    $("incident-pop").hidden = false;
    $("incident-pop").dataset.fromCall = fromCall ? "1" : "0";
    loadHistory(incident);
    if (fromCall) notify(t("incident.new", { id: incident.id }), "ok");
  }

  function incidentAction(button, action, body, done) {
    const i = state.incident;
    if (!i) return;
    act(button, () => api("POST", "/incidents/" + enc(i.id) + "/" + action, body), done).then((res) => {
      if (res && res.incident) {
        state.incident = res.incident;
        $("inc-note").value = "";
        renderIncident();
        loadIncidents();
      }
    });
  }

  const note = () => $("inc-note").value.trim();
  $("inc-close").addEventListener("click", () => {
    $("incident-pop").hidden = true;
  });
  $("inc-start").addEventListener("click", (ev) => incidentAction(ev.currentTarget, "start", { note: note() }, t("incident.started")));
  $("inc-escalate").addEventListener("click", (ev) => {
    const to = $("inc-escalate-to").value.trim();
    if (!to) {
      notify(t("incident.escalate_to_needed"), "error");
      return;
    }
    incidentAction(ev.currentTarget, "escalate", { to, note: note() }, t("incident.escalated"));
  });
  $("inc-progress").addEventListener("click", (ev) =>
    incidentAction(ev.currentTarget, "progress", { how: $("inc-progress-how").value, note: note() }, t("incident.progressed")));
  $("inc-resolve").addEventListener("click", (ev) => incidentAction(ev.currentTarget, "resolve", { note: note() }, t("incident.resolved")));

  // -- start ---------------------------------------------------------------------------------

  if (!agentId) {
    pickAgent();
    return;
  }
  $("desk").hidden = false;
  renderParked();
  act(null, () => api("GET", agentPath())).then((a) => {
    if (a && !state.agent) {
      state.agent = a.agent || a;
      state.at.agent = new Date(CC.serverNow()).toISOString();
      renderAgent();
    }
  });
  loadTargets();
  loadIncidents();
  loadFollowups();
  setInterval(loadFollowups, 15000);
  new CC.Live(onMessage, CC.connState($("conn")));
})();
