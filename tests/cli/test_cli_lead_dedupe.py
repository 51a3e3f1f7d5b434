"""`leads campaign lead add --dedupe campaign|workspace|live` and the suppression list: what
the summary says of suppressed rows and of duplicates in other campaigns, and what the
database holds after it."""

from __future__ import annotations

import pytest

from tests.cli.conftest import lead_summary as summary
from tests.cli.conftest import write
from tests.contract import (
    database_state,
    leads_url,
    move_to,
    stored_leads,
    usage_error,
)

CSV = (
    "email,linkedin_url\n"
    "new@example.com,\n"  # 2: imported
    "alan@example.com,\n"  # 3: in the campaign "Earlier"
    "eve@example.com,\n"  # 4: suppressed (email entry)
    "x@eu.spam.example,\n"  # 5: suppressed (domain entry, a subdomain)
    "Grace@Example.com,\n"  # 6: the email captured on a lead of the LinkedIn campaign
    "old@example.com,\n"  # 7: in the completed campaign "Done"
    "new@example.com,\n"  # 8: a duplicate in the batch
    "ok@example.com,linkedin.com/in/blocked\n"  # 9: suppressed by its captured LinkedIn URL
)


@pytest.fixture
def workspace(api) -> dict:
    """Three other campaigns holding people, and a suppression list."""
    earlier = api.create_campaign("Earlier", "email")
    linkedin = api.create_campaign("LinkedIn", "linkedin")
    done = api.create_campaign("Done", "email")
    for campaign, rows in [
        (earlier, [{"email": "alan@example.com"}, {"email": "ida@example.com"}]),
        (linkedin, [{"linkedin_url": "linkedin.com/in/grace", "email": "grace@example.com"}]),
        (done, [{"email": "old@example.com"}]),
    ]:
        response = api.post(leads_url(campaign["id"]), json={"prospects": rows})
        assert response.status_code == 200, response.json
    move_to(api, done, "completed")
    response = api.post(
        "/api/suppressions",
        json={
            "entries": [
                {"kind": "email", "value": "eve@example.com"},
                {"kind": "domain", "value": "spam.example"},
                {"kind": "linkedin_url", "value": "linkedin.com/in/blocked"},
            ]
        },
    )
    assert response.status_code == 200, response.json
    entries = api.get("/api/suppressions").json["suppressions"]
    return {
        "earlier": earlier,
        "linkedin": linkedin,
        "done": done,
        "entries": {item["kind"]: item for item in entries},
    }


def elsewhere(db, workspace: dict, line: int, identity: str, campaign: str) -> dict:
    """A workspace duplicate as the summary names it: the other campaign's lead."""
    campaign_id = workspace[campaign]["id"]
    by_identity = {
        lead["email"]: lead["id"] for lead in stored_leads(db, campaign_id, ["id", "email"])
    }
    return {
        "line": line,
        "identity": identity,
        "id": by_identity[identity],
        "campaign_id": campaign_id,
    }


def suppressed(workspace: dict, line: int, identity: str, kind: str) -> dict:
    entry = workspace["entries"][kind]
    return {
        "line": line,
        "identity": identity,
        "suppressed_by": {"id": entry["id"], "kind": kind, "value": entry["value"]},
    }


def write_csv(tmp_path) -> str:
    return write(tmp_path, "people.csv", CSV)


def add(invoke, campaign: dict, *args: str):
    return invoke("campaign", "lead", "add", "--id", campaign["id"], *args)


def stored_identities(db, campaign: dict) -> list[str]:
    return [lead["identity"] for lead in stored_leads(db, campaign["id"], ["identity"])]


# The CSV's lines that the suppression list matches (line, identity, the entry's kind), and
# those that other campaigns hold (line, identity, campaign).
SUPPRESSED_LINES = [(4, "eve@example.com", "email"), (5, "x@eu.spam.example", "domain"),
                    (9, "ok@example.com", "linkedin_url")]  # fmt: skip
ELSEWHERE_LINES = [(3, "alan@example.com", "earlier"), (6, "grace@example.com", "linkedin"),
                   (7, "old@example.com", "done")]  # fmt: skip


def expected(db, workspace: dict, elsewhere_lines: tuple | list = ()) -> dict:
    """The CSV's summary when `elsewhere_lines` count as held by other campaigns: line 8
    repeats line 2 in any mode, and SUPPRESSED_LINES are suppressed."""
    found = [elsewhere(db, workspace, *line) for line in elsewhere_lines]
    return summary(
        rows=8,
        imported=4 - len(found),
        duplicates=1 + len(found),
        suppressed=3,
        workspace_duplicates=found,
        suppressed_rows=[suppressed(workspace, *line) for line in SUPPRESSED_LINES],
    )


class TestDedupeModes:
    def test_workspace(self, invoke, db, email_campaign, workspace, tmp_path, injector):
        result = add(invoke, email_campaign, "--file", write_csv(tmp_path), "--dedupe", "workspace")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == expected(db, workspace, ELSEWHERE_LINES)
        assert [request.query for request in injector.requests] == ["dedupe=workspace"]
        assert stored_identities(db, email_campaign) == ["new@example.com"]
        assert stored_identities(db, workspace["earlier"]) == [
            "alan@example.com",
            "ida@example.com",
        ]

    def test_live_skips_completed_campaigns(self, invoke, db, email_campaign, workspace, tmp_path):
        result = add(invoke, email_campaign, "--file", write_csv(tmp_path), "--dedupe", "live")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == expected(db, workspace, ELSEWHERE_LINES[:2])
        assert stored_identities(db, email_campaign) == ["new@example.com", "old@example.com"]

    @pytest.mark.parametrize("flag", [[], ["--dedupe", "campaign"]])
    def test_campaign_mode_obeys_the_suppression_list_only(
        self, invoke, db, email_campaign, workspace, tmp_path, injector, flag
    ):
        result = add(invoke, email_campaign, "--file", write_csv(tmp_path), *flag)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == expected(db, workspace)
        # Without the flag the API's default applies: no parameter is sent.
        assert [request.query for request in injector.requests] == [
            "dedupe=campaign" if flag else ""
        ]
        assert stored_identities(db, email_campaign) == [
            "new@example.com",
            "alan@example.com",
            "grace@example.com",
            "old@example.com",
        ]

    def test_table_summary(self, invoke, db, email_campaign, workspace, tmp_path):
        result = add(
            invoke, email_campaign, "--file", write_csv(tmp_path), "--dedupe", "workspace",
            "--format", "table",
        )  # fmt: skip
        assert (result.exit_code, result.stderr) == (0, "")
        lines = [
            "Import: complete, 8 rows",
            "  imported: 1",
            "  duplicates: 4 (3 in other campaigns)",
        ]
        for line, identity, campaign in ELSEWHERE_LINES:
            found = elsewhere(db, workspace, line, identity, campaign)
            lines.append(
                f"    line {line}: {identity} is in campaign {found['campaign_id']} "
                f"(lead {found['id']})"
            )
        lines.append("  suppressed: 3")
        for line, identity, kind in SUPPRESSED_LINES:
            value = workspace["entries"][kind]["value"]
            lines.append(f"    line {line}: {identity}, by the {kind} entry {value}")
        lines += ["  rejected: 0", ""]
        assert result.stdout == "\n".join(lines)

    def test_dry_run_reports_the_same_and_writes_nothing(
        self, invoke, db, email_campaign, workspace, tmp_path, injector
    ):
        before = database_state(db)
        result = add(
            invoke, email_campaign, "--file", write_csv(tmp_path), "--dedupe", "workspace",
            "--dry-run",
        )  # fmt: skip
        assert (result.exit_code, result.stderr) == (0, "")
        real = expected(db, workspace, ELSEWHERE_LINES)
        assert result.json == {**real, "dry_run": True}
        assert database_state(db) == before
        assert [(request.query, request.idempotency_key) for request in injector.requests] == [
            ("dedupe=workspace&dry_run=true", None)
        ]

    def test_the_mode_is_part_of_the_batch_key(
        self, invoke, api, db, email_campaign, workspace, injector
    ):
        prospects = '[{"email": "alan@example.com"}, {"email": "zoe@example.com"}]'
        assert add(invoke, email_campaign, "--prospects", prospects).exit_code == 0
        removed = invoke(
            "campaign", "lead", "remove", "--id", email_campaign["id"], "--all", "--yes"
        )
        assert removed.exit_code == 0
        # The same batch with another mode is another request: never a replay of the first.
        result = add(invoke, email_campaign, "--prospects", prospects, "--dedupe", "workspace")
        assert (result.exit_code, result.stderr) == (0, "")
        found = elsewhere(db, workspace, 0, "alan@example.com", "earlier")
        del found["line"]
        assert result.json == summary(
            rows=2, imported=1, duplicates=1, workspace_duplicates=[{"index": 0, **found}]
        )
        first, second = injector.requests
        assert first.idempotency_key != second.idempotency_key
        assert second.replayed is False
        assert stored_identities(db, email_campaign) == ["zoe@example.com"]

    def test_an_unknown_mode_is_a_usage_error(self, invoke, email_campaign, injector):
        result = add(invoke, email_campaign, "--prospects", "[]", "--dedupe", "bogus")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(
            "leads campaign lead add",
            "Invalid value for '--dedupe': 'bogus' is not one of 'campaign', 'workspace', 'live'.",
        )
        assert injector.requests == []
