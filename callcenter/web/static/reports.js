"use strict";
// /reports: the monthly report (shown as its HTML form, with the other forms to
// download), the reports the daemon kept, and the call detail behind every figure,
// with its CSV export. Supervisors, admins and auditors; nothing here changes anything.
(() => {
  const { t, el, replace, api, notify, page } = CC;
  const FORMATS = ["xlsx", "pdf", "csv", "json", "html"];
  const PAGE = 100;
  let offset = 0;

  function lastMonth() {
    const d = new Date();
    d.setDate(1);
    d.setMonth(d.getMonth() - 1);
    return d.toISOString().slice(0, 7);
  }

  function showMonth() {
    const month = document.getElementById("month").value;
    const lang = document.getElementById("report-lang").value;
    if (!month) return;
    const base = `/api/v1/reports/monthly/${month}`;
    document.getElementById("report").src = `${base}?format=html&lang=${lang}`;
    replace(
      document.getElementById("downloads"),
      t("reports.download"),
      " ",
      FORMATS.map((f) =>
        el("a", { href: `${base}?format=${f}&lang=${lang}`, download: "", class: "dl", "data-format": f }, f.toUpperCase()),
      ),
    );
  }

  const STAFF = ["supervisor", "admin"];

  async function showActions() {
    const month = document.getElementById("month").value;
    const list = document.getElementById("actions");
    if (!month) return;
    try {
      const data = await api("GET", `/reports/monthly/${month}/actions`);
      replace(
        list,
        data.actions.length
          ? data.actions.map((a) =>
              el("li", { "data-action": a.id },
                el("strong", { text: a.title }), " ",
                el("span", { class: "owner", text: a.owner ? `(${a.owner})` : "" }), " ",
                el("span", { class: "status", text: CC.tOr(`actions.status.${a.status}`, a.status) }),
                a.body ? el("p", { text: a.body }) : null))
          : [el("li", { text: t("actions.none") })],
      );
    } catch (e) {
      notify(e.message, "error");
    }
  }

  async function addAction(ev) {
    ev.preventDefault();
    const month = document.getElementById("month").value;
    const body = {
      title: document.getElementById("action-title").value,
      owner: document.getElementById("action-owner").value,
      body: document.getElementById("action-body").value,
    };
    const done = await CC.act(ev.submitter, () => api("POST", `/reports/monthly/${month}/actions`, body), t("actions.added"));
    if (done) {
      document.getElementById("action-form").reset();
      showActions();
      showMonth();
    }
  }

  async function showArchive() {
    try {
      const data = await api("GET", "/reports/archive");
      const list = document.getElementById("archive");
      if (!data.reports.length) {
        replace(list, el("li", { text: t("reports.none_kept") }));
        return;
      }
      replace(
        list,
        data.reports.map((r) =>
          el("li", {}, el("a", { href: r.url, download: "" }, `${r.period} ${r.format.toUpperCase()} (${r.lang})`)),
        ),
      );
    } catch (e) {
      notify(e.message, "error");
    }
  }

  function callParams() {
    const p = new URLSearchParams();
    p.set("from", document.getElementById("calls-from").value);
    p.set("to", document.getElementById("calls-to").value);
    for (const [id, key] of [["calls-queue", "queue"], ["calls-agent", "agent"], ["calls-caller", "caller"], ["calls-outcome", "outcome"]]) {
      const v = document.getElementById(id).value.trim();
      if (v) p.set(key, v);
    }
    return p;
  }

  const COLUMNS = ["arrived_at", "caller_num", "queue", "agent", "outcome", "wait_seconds", "handle_seconds", "incoming", "abandoned", "busy", "within_sl"];

  async function showCalls() {
    const p = callParams();
    document.getElementById("calls-export").href = `/api/v1/call-records/export?${p}`;
    p.set("limit", String(PAGE));
    p.set("offset", String(offset));
    try {
      const data = await api("GET", `/call-records?${p}`);
      const table = document.getElementById("calls");
      replace(
        table,
        el("tr", {}, COLUMNS.map((c) => el("th", { text: t(`calls.col.${c}`) }))),
        data.calls.map((row) =>
          el("tr", { "data-linkedid": row.linkedid }, COLUMNS.map((c) => el("td", { text: cell(row[c]) }))),
        ),
      );
      const last = Math.min(offset + data.calls.length, data.total);
      document.getElementById("calls-summary").textContent = t("calls.summary", {
        first: data.total ? offset + 1 : 0, last, total: data.total,
      });
      document.getElementById("calls-prev").disabled = offset === 0;
      document.getElementById("calls-next").disabled = last >= data.total;
    } catch (e) {
      notify(e.message, "error");
    }
  }

  function cell(v) {
    if (v === null || v === undefined) return "–";
    if (v === true) return "1";
    if (v === false) return "0";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(1);
    return String(v);
  }

  const OUTCOMES = ["answered", "abandoned", "short_abandoned", "after_hours", "voicemail", "callback", "transferred_out", "failed", "unknown"];
  document.getElementById("calls-outcome").append(
    ...OUTCOMES.map((o) => el("option", { value: o }, CC.tOr(`outcome.${o}`, o))),
  );
  document.getElementById("me").textContent = page.me ? page.me.name : "";
  document.getElementById("month").value = lastMonth();
  document.getElementById("report-lang").value = document.documentElement.lang === "en" ? "en" : "ja";
  const first = lastMonth() + "-01";
  const next = new Date(first);
  next.setMonth(next.getMonth() + 1);
  document.getElementById("calls-from").value = first;
  document.getElementById("calls-to").value = next.toISOString().slice(0, 10);
  document.getElementById("month-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    showMonth();
    showActions();
  });
  const form = document.getElementById("action-form");
  form.hidden = !(page.me && STAFF.includes(page.me.role));  // auditors read only
  form.addEventListener("submit", addAction);
  document.getElementById("calls-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    offset = 0;
    showCalls();
  });
  document.getElementById("calls-prev").addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE);
    showCalls();
  });
  document.getElementById("calls-next").addEventListener("click", () => {
    offset += PAGE;
    showCalls();
  });
  showMonth();
  showActions();
  showArchive();
  showCalls();
})();
