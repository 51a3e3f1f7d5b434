"""`leads campaign create|list|show|launch|pause|resume|complete` against the live service."""

from __future__ import annotations

import pytest

from leads_contract.values import CAMPAIGN_STATUSES, LEAD_STATUSES
from leads_contract.values import CAMPAIGN_TRANSITIONS as TRANSITIONS
from tests.cli.conftest import simple_table
from tests.contract import (
    database_state,
    leads_url,
    move_to,
    query_rows,
    usage_error,
)


def stored_campaigns(db) -> list[dict]:
    return query_rows(
        db,
        "SELECT c.id::text, w.name AS workspace, c.name, c.type::text, c.status::text "
        "FROM campaigns c JOIN workspaces w ON w.id = c.workspace_id "
        "ORDER BY c.created_at, c.id",
    )


def plain(pairs, width: int) -> list[str]:
    return [f"{key:<{width}}  {value}".rstrip() for key, value in pairs]


def campaign_text(campaign: dict, by_status: dict | None = None) -> str:
    lines = plain(
        [
            ("id", campaign["id"]),
            ("name", campaign["name"]),
            ("type", campaign["type"]),
            ("status", campaign["status"]),
            ("leads", campaign["stats"]["total"]),
            ("contacted", campaign["stats"]["contacted"]),
            ("created_at", campaign["created_at"]),
            ("updated_at", campaign["updated_at"]),
        ],
        10,
    )
    if by_status is not None:
        lines += ["", "Leads by status:", *plain(by_status.items(), 15)]
    return "\n".join(lines) + "\n"


class TestCreate:
    @pytest.mark.parametrize("type_", ["email", "linkedin"])
    def test_json(self, invoke, api, db, type_):
        result = invoke("campaign", "create", "--type", type_, "--name", "  Spring outreach ")
        assert (result.exit_code, result.stderr) == (0, "")
        created = result.json["campaign"]
        assert result.json == {
            "campaign": api.get(f"/api/campaigns/{created['id']}").json["campaign"]
        }
        assert stored_campaigns(db) == [
            {
                "id": created["id"],
                "workspace": "acme",
                "name": "Spring outreach",
                "type": type_,
                "status": "draft",
            }
        ]

    def test_table(self, invoke, api):
        result = invoke(
            "campaign", "create", "--type", "email", "--name", "Q3", "--format", "table"
        )
        assert (result.exit_code, result.stderr) == (0, "")
        campaign = api.get("/api/campaigns").json["campaigns"][0]
        assert result.stdout == campaign_text(campaign)

    def test_a_taken_name_is_exit_1_and_writes_nothing(self, invoke, api, db):
        api.create_campaign("Q3", "email")
        before = database_state(db)
        result = invoke("campaign", "create", "--type", "linkedin", "--name", "Q3")
        expected = api.post("/api/campaigns", json={"name": "Q3", "type": "linkedin"})
        assert expected.status_code == 409
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"Error: {expected.json['message']} (HTTP 409)\n"
        assert database_state(db) == before

    @pytest.mark.parametrize("name", ["", "   "])
    def test_a_blank_name_is_refused_by_the_api(self, invoke, api, db, name):
        before = database_state(db)
        result = invoke("campaign", "create", "--type", "email", "--name", name)
        expected = api.post("/api/campaigns", json={"name": name, "type": "email"})
        assert expected.status_code == 400
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"Error: {expected.json['message']} (HTTP 400)\n"
        assert database_state(db) == before

    @pytest.mark.parametrize(
        "args, message",
        [
            (
                ["--type", "sms", "--name", "x"],
                "Invalid value for '--type': 'sms' is not one of 'email', 'linkedin'.",
            ),
            (["--name", "x"], "Missing option '--type'. Choose from:\n\temail,\n\tlinkedin"),
            (["--type", "email"], "Missing option '--name'."),
        ],
    )
    def test_usage_errors_are_exit_2_and_write_nothing(self, invoke, db, args, message):
        before = database_state(db)
        result = invoke("campaign", "create", *args)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error("leads campaign create", message)
        assert database_state(db) == before


class TestList:
    @pytest.fixture
    def campaigns(self, api, other_api):
        first = api.create_campaign("Alpha", "email")
        second = api.create_campaign('Beta, "quoted"', "linkedin")
        other_api.create_campaign("Not ours", "email")
        api.post(
            leads_url(first["id"]), json={"prospects": [{"email": "a@x.io"}, {"email": "b@x.io"}]}
        )
        move_to(api, second, "paused")
        return api.get("/api/campaigns").json["campaigns"]

    def test_json_is_the_api_body(self, invoke, api, campaigns):
        result = invoke("campaign", "list")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == {"campaigns": campaigns}
        assert [item["name"] for item in campaigns] == ["Alpha", 'Beta, "quoted"']

    def test_table(self, invoke, campaigns):
        result = invoke("campaign", "list", "--format", "table")
        assert (result.exit_code, result.stderr) == (0, "")
        assert (
            result.stdout
            == simple_table(
                ["ID", "NAME", "TYPE", "STATUS", "LEADS", "CREATED AT"],
                [
                    [
                        c["id"],
                        c["name"],
                        c["type"],
                        c["status"],
                        c["stats"]["total"],
                        c["created_at"],
                    ]
                    for c in campaigns
                ],
            )
            + "\n"
        )

    def test_csv(self, invoke, campaigns):
        result = invoke("campaign", "list", "--format", "csv")
        assert (result.exit_code, result.stderr) == (0, "")
        rows = [
            f"{c['id']},{name},{c['type']},{c['status']},{c['stats']['total']},"
            f"{c['created_at']},{c['updated_at']}"
            for c, name in zip(campaigns, ["Alpha", '"Beta, ""quoted"""'], strict=True)
        ]
        assert result.stdout == "\n".join(
            ["id,name,type,status,leads,created_at,updated_at", *rows, ""]
        )

    @pytest.mark.parametrize(
        "output_format, expected",
        [
            ("table", "No campaigns.\n"),
            ("json", '{\n  "campaigns": []\n}\n'),
            ("csv", "id,name,type,status,leads,created_at,updated_at\n"),
        ],
    )
    def test_no_campaigns(self, invoke, token, output_format, expected):
        result = invoke("campaign", "list", "--format", output_format)
        assert (result.exit_code, result.stderr, result.stdout) == (0, "", expected)


class TestShow:
    def test_json_is_the_api_body(self, invoke, api, email_campaign):
        api.post(leads_url(email_campaign["id"]), json={"prospects": [{"email": "a@x.io"}]})
        result = invoke("campaign", "show", "--id", email_campaign["id"])
        assert (result.exit_code, result.stderr) == (0, "")
        expected = api.get(f"/api/campaigns/{email_campaign['id']}").json
        assert result.json == expected
        assert expected["prospects_by_status"] == {
            status: int(status == "pending") for status in LEAD_STATUSES
        }

    def test_table(self, invoke, api, linkedin_campaign):
        result = invoke("campaign", "show", "--id", linkedin_campaign["id"], "--format", "table")
        assert (result.exit_code, result.stderr) == (0, "")
        expected = api.get(f"/api/campaigns/{linkedin_campaign['id']}").json
        assert result.stdout == campaign_text(expected["campaign"], expected["prospects_by_status"])

    @pytest.mark.parametrize(
        "campaign_id", ["0190a0a0-0000-7000-8000-000000000000", "not-a-uuid", "{other}"]
    )
    @pytest.mark.parametrize("command", ["show", "launch", "pause", "resume", "complete"])
    def test_unknown_or_foreign_campaign_is_exit_1(
        self, invoke, api, other_api, db, command, campaign_id
    ):
        foreign = other_api.create_campaign("Theirs", "email")
        campaign_id = campaign_id.format(other=foreign["id"])
        before = database_state(db)
        result = invoke("campaign", command, "--id", campaign_id)
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == "Error: Campaign not found. (HTTP 404)\n"
        assert database_state(db) == before

    @pytest.mark.parametrize("command", ["show", "launch"])
    def test_an_id_stays_one_path_segment(self, invoke, api, db, email_campaign, command):
        """`../<id>` must not reach another route (here: the campaign itself)."""
        before = database_state(db)
        result = invoke("campaign", command, "--id", f"../{email_campaign['id']}")
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.startswith("Error: ") and result.stderr.endswith(" (HTTP 404)\n")
        assert database_state(db) == before

    def test_id_is_required(self, invoke):
        result = invoke("campaign", "show")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr.endswith("Error: Missing option '--id'.\n")


class TestTransitions:
    @pytest.mark.parametrize(
        "transition, start",
        [(name, start) for name, (starts, _) in TRANSITIONS.items() for start in starts],
    )
    @pytest.mark.parametrize("output_format", ["json", "table"])
    def test_allowed(self, invoke, api, db, email_campaign, transition, start, output_format):
        move_to(api, email_campaign, start)
        result = invoke(
            "campaign", transition, "--id", email_campaign["id"], "--format", output_format
        )
        assert (result.exit_code, result.stderr) == (0, "")
        campaign = api.get(f"/api/campaigns/{email_campaign['id']}").json["campaign"]
        assert campaign["status"] == TRANSITIONS[transition][1]
        if output_format == "json":
            assert result.json == {"campaign": campaign}
        else:
            assert result.stdout == campaign_text(campaign)
        assert [row["status"] for row in stored_campaigns(db)] == [TRANSITIONS[transition][1]]

    @pytest.mark.parametrize(
        "transition, start",
        [
            (name, start)
            for name, (starts, _) in TRANSITIONS.items()
            for start in CAMPAIGN_STATUSES
            if start not in starts
        ],
    )
    def test_refused_from_the_wrong_status(
        self, invoke, api, db, email_campaign, transition, start
    ):
        move_to(api, email_campaign, start)
        before = database_state(db)
        result = invoke("campaign", transition, "--id", email_campaign["id"])
        expected = api.post(f"/api/campaigns/{email_campaign['id']}/{transition}")
        assert expected.status_code == 400
        assert start in expected.json["message"]
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"Error: {expected.json['message']} (HTTP 400)\n"
        assert database_state(db) == before
