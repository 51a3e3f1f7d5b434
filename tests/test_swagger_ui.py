"""Swagger UI at /docs in a real browser (Debian's chromium, driven by playwright): it loads
from the service alone, and "Authorize" then "Try it out" create a campaign and add leads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error, Locator, Page, expect, sync_playwright

from tests.contract import (
    STORED_FIELDS,
    as_stored_campaign,
    database_state,
    leads_url,
    pending_stats,
    result,
    stored_campaign,
    stored_lead_ids,
    stored_leads,
    stored_stats,
)

# Debian's package: playwright's own browser builds are downloaded from a host this machine
# cannot reach, and CI (.ci/run) installs this one.
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian's chromium is not installed ({CHROMIUM}): apt-get install chromium",
)

# How long a step may wait for the page, for playwright's actions and its expect() alike
# (whose own default is shorter): CI shares two CPUs between the browser, the server and
# PostgreSQL.
STEP_TIMEOUT_MS = 30_000


@pytest.fixture
def page(live_server) -> Iterator[Page]:
    """A fresh browser page whose relative URLs go to the live server. Tests name it last,
    so that it is set up after their other fixtures and closed before them."""
    # The sync API runs an event loop of its own on this thread while the block is open (to
    # asyncio it is the running loop, even between calls), and closes it on leaving: nothing
    # else may use asyncio on this thread in between.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = browser.new_context(base_url=live_server.url)
            context.set_default_timeout(STEP_TIMEOUT_MS)
            try:
                yield context.new_page()
            finally:
                context.close()
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(page: Page, path: Path) -> Iterator[None]:
    """On an error in the block, save a screenshot of the page to `path` and name it in the
    failure: what the browser showed is most of the diagnosis."""
    try:
        yield
    except Exception as error:
        try:
            page.screenshot(path=path, full_page=True)
            error.add_note(f"Screenshot of the page at the failure: {path}")
        except Error as screenshot_error:
            error.add_note(f"No screenshot of the page: {screenshot_error}")
        raise


def authorize(page: Page, token: str) -> None:
    """Enter the token in the "Authorize" dialog, as a user would, and close it."""
    page.get_by_role("button", name="Authorize", exact=True).click()
    dialog = page.locator(".modal-ux")
    dialog.get_by_label("Value").fill(token)
    dialog.get_by_role("button", name="Authorize", exact=True).click()
    # The dialog shows "Logout" once the token is taken.
    expect(dialog.get_by_role("button", name="Logout")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    dialog.get_by_role("button", name="Close").click()


def operation(page: Page, method: str, path: str) -> Locator:
    """The block of one operation on the page."""
    return page.locator(f".opblock-{method.lower()}").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]')
    )


def try_it_out(
    page: Page, method: str, path: str, body: dict, parameters: dict[str, str] | None = None
) -> tuple[str, dict]:
    """Open the operation, "Try it out" with these parameters and JSON body, "Execute";
    return the status and the response body that the page shows."""
    block = operation(page, method, path)
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    for name, value in (parameters or {}).items():
        block.locator(f'tr[data-param-name="{name}"] input').fill(value)
    block.locator("textarea.body-param__text").fill(json.dumps(body))
    block.get_by_role("button", name="Execute").click()
    # "Server response": one row, the status, then the body under "Response body".
    response = block.locator(".live-responses-table .response")
    expect(response).to_be_visible(timeout=STEP_TIMEOUT_MS)
    status = response.locator(".response-col_status").inner_text()
    shown_body = response.locator(".response-col_description .highlight-code pre").inner_text()
    return status.strip(), json.loads(shown_body)


def requests_elsewhere(requested: list[tuple[str, str]], server_url: str) -> list[str]:
    """The URLs of the requests that went to another host or port than the live server's."""
    served = urlsplit(server_url).netloc
    return [url for _, url in requested if urlsplit(url).netloc != served]


def test_try_it_out_creates_a_campaign_and_adds_leads(live_server, token, db, tmp_path, page):
    # Every request of the page, assets included: Swagger UI must come from the service
    # itself (swagger-ui-bundle's files), never from a CDN, so /docs works offline.
    requested: list[tuple[str, str]] = []
    page.on("request", lambda request: requested.append((request.method, request.url)))

    with screenshot_on_failure(page, tmp_path / "swagger-ui.png"):
        # Once the network is idle the page has asked for all it needs to render: a request
        # elsewhere is named here, before the UI that it would have drawn is missed.
        page.goto("/docs", wait_until="networkidle")
        assert requests_elsewhere(requested, live_server.url) == []
        expect(operation(page, "POST", "/api/campaigns")).to_be_visible(timeout=STEP_TIMEOUT_MS)
        authorize(page, token)

        status, body = try_it_out(
            page, "POST", "/api/campaigns", {"name": "Browser outreach", "type": "email"}
        )
        assert status == "201", body
        campaign = body["campaign"]
        assert body == {
            "campaign": {
                "id": campaign["id"],
                "name": "Browser outreach",
                "type": "email",
                "status": "draft",
                "stats": pending_stats(0, campaign["stats"]["last_synced_at"]),
                "created_at": campaign["created_at"],
                "updated_at": campaign["created_at"],
            }
        }
        assert stored_campaign(db, campaign["id"]) == as_stored_campaign(campaign, "acme")

        rows = [
            {"email": " Ada@Example.COM ", "first_name": "Ada", "custom_fields": {"deal": 5}},
            {"email": "ada@example.com"},
            {"email": "grace@example.com", "first_name": "Grace"},
        ]
        status, body = try_it_out(
            page,
            "POST",
            "/api/campaigns/{campaign_id}/leads",
            {"prospects": rows},
            {"campaign_id": campaign["id"]},
        )
        assert status == "200", body

        blank = dict.fromkeys(STORED_FIELDS) | {"custom_fields": {}}
        assert stored_leads(db, campaign["id"], STORED_FIELDS) == [
            blank
            | {
                "identity": "ada@example.com",
                "email": "ada@example.com",
                "first_name": "Ada",
                "custom_fields": {"deal": 5},
            },
            blank
            | {
                "identity": "grace@example.com",
                "email": "grace@example.com",
                "first_name": "Grace",
            },
        ]
        ada, grace = stored_lead_ids(db, campaign["id"])
        assert body == {
            "imported": 2,
            "duplicates": 1,
            "suppressed": 0,
            "results": [
                result(0, "imported", ada, "ada@example.com", None),
                result(1, "duplicate", ada, "ada@example.com", "batch"),
                result(2, "imported", grace, "grace@example.com", None),
            ],
            "stats": pending_stats(2, body["stats"]["last_synced_at"]),
        }
        assert stored_stats(db, campaign["id"]) == body["stats"]
        state = database_state(db)
        assert (len(state["campaigns"]), len(state["leads"])) == (1, 2)

        assert requests_elsewhere(requested, live_server.url) == []
        paths = {(method, urlsplit(url).path) for method, url in requested}
        assert {
            ("GET", "/docs"),
            ("GET", "/docs/assets/swagger-ui.css"),
            ("GET", "/docs/assets/swagger-ui-bundle.js"),
            ("GET", "/docs/assets/swagger-ui-standalone-preset.js"),
            ("GET", "/openapi.json"),
            ("POST", "/api/campaigns"),
            ("POST", leads_url(campaign["id"])),
        } <= paths, requested
