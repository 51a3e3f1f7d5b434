"""`leads campaign lead list|update|remove` against the live service."""

from __future__ import annotations

import csv
import io
import json

import pytest

from leads_client import cli as cli_module
from tests.contract import (
    LEAD_KEYS,
    STORED_FIELDS,
    add_leads,
    database_state,
    frozen_roster,
    leads_url,
    move_to,
    set_statuses,
    stored_lead,
    stored_lead_ids,
    usage_error,
)


def seed(api, campaign: dict, count: int, prefix: str = "lead") -> list[dict]:
    rows = [
        {
            "email": f"{prefix}{number:04d}@example.com",
            "first_name": f"First{number}",
            "last_name": "Doe" if number % 2 else None,
            "company": "Acme, Inc." if number % 3 == 0 else None,
            "custom_fields": {"rank": number, "note": 'say "hi"'} if number % 4 == 0 else None,
        }
        for number in range(count)
    ]
    for start in range(0, count, 1000):
        response = api.post(
            leads_url(campaign["id"]), json={"prospects": rows[start : start + 1000]}
        )
        assert response.status_code == 200, response.json
    return every_lead(api, campaign)


def every_lead(api, campaign: dict, status: str | None = None) -> list[dict]:
    leads, page = [], 1
    while True:
        query = f"?page={page}&limit=200" + (f"&status={status}" if status else "")
        body = api.get(leads_url(campaign["id"]) + query).json
        leads += body["prospects"]
        if len(body["prospects"]) < 200:
            return leads
        page += 1


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def lead_table(leads: list[dict]) -> str:
    headers = ["ID", "STATUS", "EMAIL", "LINKEDIN URL", "NAME", "COMPANY"]
    keys = ["id", "status", "email", "linkedin_url", "name", "company"]
    cells = [[csv_cell(lead[key]) for key in keys] for lead in leads]
    widths = [
        max(len(header) + 2, *(len(row[column]) for row in cells))
        for column, header in enumerate(headers)
    ]

    def line(values):
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def lead_text(lead: dict) -> str:
    return "\n".join(f"{key:<13}  {csv_cell(lead[key])}".rstrip() for key in LEAD_KEYS) + "\n"


def refused_update(invoke, db, campaign: dict, lead_id: str) -> str:
    """The stderr of a `leads campaign lead update` of the lead's company that the API
    refuses: exit 1, nothing on stdout, nothing changed."""
    before = database_state(db)
    result = invoke(
        "campaign", "lead", "update", "--id", campaign["id"],
        "--prospect-id", lead_id, "--updates", '{"company": "X"}',
    )  # fmt: skip
    assert (result.exit_code, result.stdout) == (1, "")
    assert database_state(db) == before
    return result.stderr


class TestLeadList:
    @pytest.mark.parametrize(
        "args, query",
        [
            ([], ""),
            (["--page", "2"], "?page=2"),
            (["--limit", "7"], "?limit=7"),
            (["--page", "3", "--limit", "7"], "?page=3&limit=7"),
            (["--page", "99"], "?page=99"),
            (["--status", "replied"], "?status=replied"),
            (
                ["--status", "replied", "--limit", "2", "--page", "2"],
                "?status=replied&limit=2&page=2",
            ),
            (["--status", "bounced"], "?status=bounced"),
        ],
    )
    def test_json_is_the_api_page(self, invoke, api, db, email_campaign, args, query):
        leads = seed(api, email_campaign, 130)
        set_statuses(db, {lead["id"]: "replied" for lead in leads[10:15]})
        result = invoke("campaign", "lead", "list", "--id", email_campaign["id"], *args)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == api.get(leads_url(email_campaign["id"]) + query).json

    def test_csv(self, invoke, api, email_campaign):
        leads = seed(api, email_campaign, 9)
        result = invoke("campaign", "lead", "list", "--id", email_campaign["id"], "--format", "csv")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout.splitlines()[0] == ",".join(LEAD_KEYS)
        assert list(csv.DictReader(io.StringIO(result.stdout))) == [
            {key: csv_cell(lead[key]) for key in LEAD_KEYS} for lead in leads
        ]

    @pytest.mark.parametrize(
        "args, shown, footer",
        [
            ([], slice(0, 9), "Page 1 of 1 (9 leads)"),
            (["--limit", "4", "--page", "2"], slice(4, 8), "Page 2 of 3 (9 leads)"),
            (["--limit", "4", "--page", "3"], slice(8, 9), "Page 3 of 3 (9 leads)"),
        ],
    )
    def test_table(self, invoke, api, email_campaign, args, shown, footer):
        leads = seed(api, email_campaign, 9)
        result = invoke(
            "campaign", "lead", "list", "--id", email_campaign["id"], "--format", "table", *args
        )
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout == f"{lead_table(leads[shown])}\n{footer}\n"

    @pytest.mark.parametrize(
        "args, expected",
        [
            ([], "No leads.\nPage 1 of 1 (0 leads)\n"),
            (["--all"], "No leads.\n0 leads\n"),
        ],
    )
    def test_table_of_an_empty_roster(self, invoke, email_campaign, args, expected):
        result = invoke(
            "campaign", "lead", "list", "--id", email_campaign["id"], "--format", "table", *args
        )
        assert (result.exit_code, result.stderr, result.stdout) == (0, "", expected)

    @pytest.mark.parametrize("limit", [[], ["--limit", "200"], ["--limit", "45"], ["--limit", "1"]])
    @pytest.mark.parametrize("output_format", ["json", "csv", "table"])
    def test_all_pages_every_lead_once_in_order(
        self, invoke, api, db, email_campaign, limit, output_format
    ):
        leads = seed(api, email_campaign, 450 if limit != ["--limit", "1"] else 5)
        result = invoke(
            "campaign",
            "lead",
            "list",
            "--id",
            email_campaign["id"],
            "--all",
            "--format",
            output_format,
            *limit,
        )
        assert (result.exit_code, result.stderr) == (0, "")
        assert [lead["id"] for lead in leads] == stored_lead_ids(db, email_campaign["id"])
        if output_format == "json":
            assert result.json == {"prospects": leads, "total": len(leads)}
        elif output_format == "csv":
            assert list(csv.DictReader(io.StringIO(result.stdout))) == [
                {key: csv_cell(lead[key]) for key in LEAD_KEYS} for lead in leads
            ]
        else:
            assert result.stdout == f"{lead_table(leads)}\n{len(leads)} leads\n"

    def test_all_with_a_status(self, invoke, api, db, email_campaign):
        leads = seed(api, email_campaign, 420)
        set_statuses(db, {lead["id"]: "sent" for lead in leads[::2]})
        result = invoke(
            "campaign", "lead", "list", "--id", email_campaign["id"], "--all", "--status", "sent"
        )
        assert (result.exit_code, result.stderr) == (0, "")
        sent = every_lead(api, email_campaign, "sent")
        assert len(sent) == 210
        assert result.json == {"prospects": sent, "total": 210}

    def test_all_of_an_empty_roster(self, invoke, email_campaign):
        result = invoke("campaign", "lead", "list", "--id", email_campaign["id"], "--all")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == {"prospects": [], "total": 0}

    @pytest.mark.parametrize("status", ["draft", "active", "paused", "completed"])
    def test_works_in_every_campaign_status(self, invoke, api, email_campaign, status):
        seed(api, email_campaign, 3)
        move_to(api, email_campaign, status)
        result = invoke("campaign", "lead", "list", "--id", email_campaign["id"])
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == api.get(leads_url(email_campaign["id"])).json

    @pytest.mark.parametrize(
        "args, message",
        [
            (["--all", "--page", "2"], "--all and --page cannot be used together."),
            (
                ["--status", "lost"],
                "Invalid value for '--status': 'lost' is not one of 'pending', 'sent', "
                "'connection_sent', 'connected', 'message_sent', 'replied', 'bounced', "
                "'completed', 'timed_out', 'cancelled'.",
            ),
            (["--page", "0"], "Invalid value for '--page': 0 is not in the range x>=1."),
            (["--limit", "x"], "Invalid value for '--limit': 'x' is not a valid integer range."),
            (
                ["--format", "xml"],
                "Invalid value for '--format': 'xml' is not one of 'table', 'json', 'csv'.",
            ),
        ],
    )
    def test_usage_errors_are_exit_2(self, invoke, email_campaign, args, message):
        result = invoke("campaign", "lead", "list", "--id", email_campaign["id"], *args)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error("leads campaign lead list", message)

    @pytest.mark.parametrize("query", ["limit=201", "page=9007199254740992"])
    def test_the_api_limits_are_exit_1(self, invoke, api, email_campaign, query):
        name, value = query.split("=")
        result = invoke(
            "campaign", "lead", "list", "--id", email_campaign["id"], f"--{name}", value
        )
        expected = api.get(f"{leads_url(email_campaign['id'])}?{query}")
        assert expected.status_code == 400
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"Error: {expected.json['message']} (HTTP 400)\n"

    @pytest.mark.parametrize("all_pages", [[], ["--all"]])
    def test_unknown_campaign_is_exit_1(self, invoke, other_api, all_pages):
        foreign = other_api.create_campaign("Theirs", "email")
        result = invoke("campaign", "lead", "list", "--id", foreign["id"], *all_pages)
        assert result.exit_code == 1
        assert result.stderr == "Error: Campaign not found. (HTTP 404)\n"


class TestLeadUpdate:
    @pytest.mark.parametrize("output_format", ["json", "table"])
    def test_updates_one_lead(self, invoke, api, db, email_campaign, output_format):
        first, second = seed(api, email_campaign, 2)
        updates = {
            "email": "  New.Address@Example.COM ",
            "company": "Globex",
            "custom_fields": {"tier": "gold"},
        }
        result = invoke(
            "campaign",
            "lead",
            "update",
            "--id",
            email_campaign["id"],
            "--prospect-id",
            first["id"],
            "--updates",
            json.dumps(updates),
            "--format",
            output_format,
        )
        assert (result.exit_code, result.stderr) == (0, "")
        updated = every_lead(api, email_campaign)[0]
        assert updated["id"] == first["id"]
        if output_format == "json":
            assert result.json == {"prospect": updated}
        else:
            assert result.stdout == lead_text(updated)
        assert stored_lead(db, first["id"], STORED_FIELDS) == {
            "identity": "new.address@example.com",
            "email": "new.address@example.com",
            "linkedin_url": None,
            "first_name": "First0",
            "last_name": None,
            "name": None,
            "company": "Globex",
            "position": None,
            "headline": None,
            "custom_fields": {"tier": "gold"},
        }
        assert every_lead(api, email_campaign)[1] == second

    @pytest.mark.parametrize(
        "updates, message",
        [
            (
                "{company: 1}",
                "not valid JSON (Expecting property name enclosed in double quotes at column 2)",
            ),
            ('{"a": 1, "a": 2}', "not valid JSON (duplicate key 'a')"),
            ('{"a": NaN}', "not valid JSON (NaN is not valid JSON)"),
            ('["company"]', "must be a JSON object"),
            ("null", "must be a JSON object"),
        ],
    )
    def test_updates_must_be_a_json_object(self, invoke, api, db, email_campaign, updates, message):
        (lead,) = seed(api, email_campaign, 1)
        before = database_state(db)
        result = invoke(
            "campaign", "lead", "update", "--id", email_campaign["id"],
            "--prospect-id", lead["id"], "--updates", updates,
        )  # fmt: skip
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(
            "leads campaign lead update", f"Invalid value for --updates: {message}"
        )
        assert database_state(db) == before

    @pytest.mark.parametrize(
        "updates, status",
        [
            ({"email": "lead0001@example.com"}, 409),
            ({"email": None}, 400),
            ({"status": "replied"}, 400),
            ({}, 400),
            ({"title": "CEO"}, 400),
        ],
    )
    def test_refused_updates_are_exit_1_and_change_nothing(
        self, invoke, api, db, email_campaign, updates, status
    ):
        lead = seed(api, email_campaign, 2)[0]
        before = database_state(db)
        result = invoke(
            "campaign", "lead", "update", "--id", email_campaign["id"],
            "--prospect-id", lead["id"], "--updates", json.dumps(updates),
        )  # fmt: skip
        expected = api.patch(
            leads_url(email_campaign["id"]), json={"prospect_id": lead["id"], "updates": updates}
        )
        assert expected.status_code == status
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"Error: {expected.json['message']} (HTTP {status})\n"
        assert database_state(db) == before

    def test_unknown_lead_is_exit_1(self, invoke, api, db, email_campaign, linkedin_campaign):
        seed(api, email_campaign, 1)
        (other,) = add_leads(api, linkedin_campaign, [{"linkedin_url": "linkedin.com/in/someone"}])
        stderr = refused_update(invoke, db, email_campaign, other["id"])
        assert stderr == "Error: Lead not found in this campaign. (HTTP 404)\n"

    def test_frozen_roster_is_exit_1(self, invoke, api, db, email_campaign):
        (lead,) = seed(api, email_campaign, 1)
        move_to(api, email_campaign, "active")
        stderr = refused_update(invoke, db, email_campaign, lead["id"])
        assert stderr == (f"Error: {frozen_roster('active')} (HTTP 400)\n")


class TestLeadRemove:
    @pytest.mark.parametrize("output_format", ["json", "table"])
    def test_by_ids_skipping_unknown_ones(self, invoke, api, db, email_campaign, output_format):
        leads = seed(api, email_campaign, 5)
        ids = f" {leads[1]['id']}, 0190a0a0-0000-7000-8000-000000000000,{leads[3]['id']},,"
        result = invoke(
            "campaign", "lead", "remove", "--id", email_campaign["id"],
            "--prospect-ids", ids, "--format", output_format,
        )  # fmt: skip
        assert (result.exit_code, result.stderr) == (0, "")
        campaign = api.get(f"/api/campaigns/{email_campaign['id']}").json["campaign"]
        if output_format == "json":
            assert result.json == {"deleted": 2, "stats": campaign["stats"]}
        else:
            assert result.stdout == "Removed 2 leads; 3 left.\n"
        assert stored_lead_ids(db, email_campaign["id"]) == [leads[i]["id"] for i in (0, 2, 4)]
        assert campaign["stats"]["total"] == 3

    def test_more_ids_than_one_request_takes(self, invoke, api, db, email_campaign):
        leads = seed(api, email_campaign, 1203)
        ids = [lead["id"] for lead in leads[:1201]]
        result = invoke(
            "campaign", "lead", "remove", "--id", email_campaign["id"],
            "--prospect-ids", ",".join(ids + ids[:10]),
        )  # fmt: skip
        assert (result.exit_code, result.stderr) == (0, "")
        campaign = api.get(f"/api/campaigns/{email_campaign['id']}").json["campaign"]
        assert result.json == {"deleted": 1201, "stats": campaign["stats"]}
        assert stored_lead_ids(db, email_campaign["id"]) == [lead["id"] for lead in leads[1201:]]

    def test_all_with_yes(self, invoke, api, db, email_campaign, linkedin_campaign):
        seed(api, email_campaign, 7)
        (kept,) = add_leads(api, linkedin_campaign, [{"linkedin_url": "linkedin.com/in/x"}])
        result = invoke(
            "campaign", "lead", "remove", "--id", email_campaign["id"], "--all", "--yes"
        )
        assert (result.exit_code, result.stderr) == (0, "")
        campaign = api.get(f"/api/campaigns/{email_campaign['id']}").json["campaign"]
        assert result.json == {"deleted": 7, "stats": campaign["stats"]}
        assert stored_lead_ids(db, email_campaign["id"]) == []
        assert stored_lead_ids(db, linkedin_campaign["id"]) == [kept["id"]]

    @pytest.mark.parametrize("answer, removed", [("y\n", True), ("n\n", False), ("\n", False)])
    def test_all_asks_on_a_terminal(
        self, invoke, api, db, email_campaign, monkeypatch, answer, removed
    ):
        seed(api, email_campaign, 3)
        monkeypatch.setattr(cli_module, "is_terminal", lambda stream: stream == "stdin")
        before = database_state(db)
        result = invoke(
            "campaign", "lead", "remove", "--id", email_campaign["id"], "--all", input=answer
        )
        # click's runner echoes the typed answer after the prompt, as a terminal would.
        prompt = f"Remove all 3 leads of campaign 'Email campaign'? [y/N]: {answer}"
        if removed:
            assert (result.exit_code, result.stderr) == (0, prompt)
            campaign = api.get(f"/api/campaigns/{email_campaign['id']}").json["campaign"]
            assert result.json == {"deleted": 3, "stats": campaign["stats"]}
            assert stored_lead_ids(db, email_campaign["id"]) == []
        else:
            assert (result.exit_code, result.stdout) == (1, "")
            assert result.stderr == f"{prompt}Aborted!\n"
            assert database_state(db) == before

    def test_all_without_yes_off_a_terminal_is_refused(self, run_leads, api, db, email_campaign):
        seed(api, email_campaign, 3)
        before = database_state(db)
        result = run_leads("campaign", "lead", "remove", "--id", email_campaign["id"], "--all")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(
            "leads campaign lead remove",
            "--all removes every lead: pass --yes when not running on a terminal.",
        )
        assert database_state(db) == before

    @pytest.mark.parametrize(
        "args, message",
        [
            ([], "Give exactly one of --prospect-ids and --all."),
            (
                ["--all", "--yes", "--prospect-ids", "{id}"],
                "Give exactly one of --prospect-ids and --all.",
            ),
            (["--prospect-ids", " , ,"], "Invalid value for --prospect-ids: no lead id given"),
        ],
    )
    def test_usage_errors_are_exit_2(self, invoke, api, db, email_campaign, args, message):
        (lead,) = seed(api, email_campaign, 1)
        before = database_state(db)
        args = [arg.format(id=lead["id"]) for arg in args]
        result = invoke("campaign", "lead", "remove", "--id", email_campaign["id"], *args)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr.endswith(f"\n\nError: {message}\n")
        assert database_state(db) == before

    @pytest.mark.parametrize("selector", [["--all", "--yes"], ["--prospect-ids", "{id}"]])
    @pytest.mark.parametrize("status", ["active", "paused", "completed"])
    def test_frozen_roster_is_exit_1(self, invoke, api, db, email_campaign, selector, status):
        (lead,) = seed(api, email_campaign, 1)
        move_to(api, email_campaign, status)
        before = database_state(db)
        selector = [arg.format(id=lead["id"]) for arg in selector]
        result = invoke("campaign", "lead", "remove", "--id", email_campaign["id"], *selector)
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == (f"Error: {frozen_roster(status)} (HTTP 400)\n")
        assert database_state(db) == before

    def test_bad_ids_are_refused_by_the_api(self, invoke, api, db, email_campaign):
        seed(api, email_campaign, 1)
        before = database_state(db)
        result = invoke(
            "campaign", "lead", "remove", "--id", email_campaign["id"], "--prospect-ids", "x,y"
        )
        expected = api.delete(leads_url(email_campaign["id"]), json={"prospect_ids": ["x", "y"]})
        assert expected.status_code == 400
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"Error: {expected.json['message']} (HTTP 400)\n"
        assert database_state(db) == before
