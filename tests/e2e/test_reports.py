"""/reports in headless Chromium against the daemon on the lab: a supervisor and an
auditor open it, see the month's report, and download every form of it and the call
detail's export; the auditor's session is refused every change the API offers."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.daemon import Daemon
from callcenter.web.serve import http_of
from tests.e2e.conftest import Browsers, Page
from tests.integration.conftest import RunningDaemon
from tests.unit.metrics.records import load, random_calls

FORMATS = ("xlsx", "pdf", "csv", "json", "html")
TZ = ZoneInfo("Asia/Tokyo")
# What each form must start with: its magic number (a real file, not an error page).
MAGIC = {"xlsx": b"PK", "pdf": b"%PDF", "csv": "\ufeff".encode(), "json": b"{", "html": b"<"}


def last_month() -> str:
    now = datetime.now(TZ)
    y, m = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    return f"{y:04d}-{m:02d}"


FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: "same-origin"}).then(async (r) => {
  const bytes = new Uint8Array(await r.arrayBuffer());
  done({status: r.status, type: r.headers.get("Content-Type"),
        head: Array.from(bytes.slice(0, 4)), size: bytes.length});
}).catch((e) => done({error: String(e)}));
"""

TEXT_OF = "const done = arguments[1]; fetch(arguments[0]).then(r => r.text()).then(done);"

WRITES = """
const done = arguments[arguments.length - 1];
const csrf = JSON.parse(document.getElementById("page-data").textContent).csrf;
(async () => {
  const doc = await (await fetch("/api/v1/openapi.json")).json();
  const out = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) {
      if (method === "get" || path.includes("second-line")) continue;
      const id = path.startsWith("/api/v1/agents/") ? "agent1" : "1";
      const url = path.replace("{id}", id).replace("{name}", "support")
        .replace("{month}", "2024-06").replace("{format}", "csv")
        .replace(/\\{[a-z_]+\\}/g, "1");
      const r = await fetch(url, {
        method: method.toUpperCase(), credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: "{}"});
      out.push([method.toUpperCase() + " " + path, r.status]);
    }
  }
  done(out);
})().catch((e) => done([["error", String(e)]]));
"""


async def fetched(page: Page, url: str) -> dict[str, Any]:
    result: dict[str, Any] = await page.run(page.driver.execute_async_script, FETCH, url)
    return result


@pytest.mark.timeout(240)
async def test_supervisor_and_auditor_open_reports_and_download_every_form(
    daemon_factory: Callable[..., Daemon], browsers: Browsers
) -> None:
    rd = RunningDaemon(daemon_factory())
    await rd.start()
    try:
        d = rd.daemon
        month = last_month()
        first = datetime.fromisoformat(f"{month}-01T09:00:00+09:00").timestamp()
        load(d.engine, random_calls(random.Random(12), 120, first, 5 * 86400))
        front = http_of(d)
        browsers.base = f"http://127.0.0.1:{front.port}"
        tokens = {
            "sup": front.tokens.create("suzuki", "supervisor")[0],
            "aud": front.tokens.create("sla-audit", "auditor")[0],
        }
        for who in ("sup", "aud"):
            page = await browsers.open(who)
            await page.login(tokens[who], "/reports", ready="#downloads a.dl")
            await page.wait_text("#calls-summary", "120", 10)  # the month's calls, counted
            links = await page.attrs("#downloads a.dl", "href")
            assert len(links) == len(FORMATS)
            for fmt in FORMATS:
                url = next(u for u in links if f"format={fmt}" in u)
                got = await fetched(page, url)
                assert got["status"] == 200, (who, fmt, got)
                assert bytes(got["head"]).startswith(MAGIC[fmt]), (who, fmt, got)
                assert got["size"] > 200, (who, fmt, got)
            export = await page.attr("#calls-export", "href")
            assert export is not None
            got = await fetched(page, export)
            assert (got["status"], bytes(got["head"][:3])) == (200, "\ufeff".encode())
            # The figures the report shows are the month's, as /metrics has them.
            as_json = await page.run(
                page.driver.execute_async_script,
                TEXT_OF,
                next(u for u in links if "format=json" in u),
            )
            assert json.loads(as_json)["month"] == month
            if who == "sup":
                # The supervisor writes the month's improvement action; the report has it.
                await page.type("#action-title", "朝の増員（9時台）")
                await page.click("#action-form button[type=submit]")
                await page.wait_text("#actions", "朝の増員", 10)
                html = await page.run(
                    page.driver.execute_async_script,
                    TEXT_OF,
                    next(u for u in links if "format=html" in u),
                )
                assert "朝の増員（9時台）" in html
                await page.screenshot("reports.png")
            else:
                hidden = await page.attr("#action-form", "hidden")
                assert hidden is not None  # an auditor reads only
                await page.wait_text("#actions", "朝の増員", 10)
        # The auditor's session: every change refused, nothing changed.
        auditor = browsers.pages[-1]
        answers = await auditor.run(auditor.driver.execute_async_script, WRITES)
        assert len(answers) >= 20, answers
        assert [a for a in answers if a[1] != 403] == [], answers
        assert await auditor.script_errors() == []
    finally:
        await rd.shutdown()
