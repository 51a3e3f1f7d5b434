"""/api/campaigns: create, list, show, and the launch/pause/resume/complete transitions."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from leads_contract.values import CAMPAIGN_STATUSES, LEAD_STATUSES
from leads_contract.values import CAMPAIGN_TRANSITIONS as TRANSITIONS
from tests.contract import (
    NO_ROUTE,
    add_leads,
    as_stored_campaign,
    bad_body,
    bad_fields,
    database_state,
    error_body,
    move_to,
    pending_stats,
    stored_campaign,
)

# (from status, transition) -> the status it leads to; every other pair is refused.
ALLOWED = {(start, name): to for name, (starts, to) in TRANSITIONS.items() for start in starts}
# What a refusal says the campaign must be.
REQUIRED_STATUS = {name: " or ".join(starts) for name, (starts, _) in TRANSITIONS.items()}


class TestCreateCampaign:
    @pytest.mark.parametrize(
        ("name", "type_", "stored_name"),
        [
            ("Spring outreach", "email", "Spring outreach"),
            ("Spring outreach", "linkedin", "Spring outreach"),
            ("  Padded name \t", "email", "Padded name"),
            ("Été 2025 — Zürich", "linkedin", "Été 2025 — Zürich"),
            ("n" * 200, "email", "n" * 200),
            ("  " + "n" * 200 + "  ", "email", "n" * 200),
        ],
    )
    def test_created_as_draft_with_zero_stats(self, api, db, name, type_, stored_name):
        response = api.post("/api/campaigns", json={"name": name, "type": type_})
        assert response.status_code == 201, response.json
        campaign = response.json["campaign"]
        assert response.json == {
            "campaign": {
                "id": campaign["id"],
                "name": stored_name,
                "type": type_,
                "status": "draft",
                "stats": pending_stats(0, campaign["stats"]["last_synced_at"]),
                "created_at": campaign["created_at"],
                "updated_at": campaign["created_at"],
            }
        }
        assert stored_campaign(db, campaign["id"]) == as_stored_campaign(campaign, "acme")
        assert len(database_state(db)["campaigns"]) == 1

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            pytest.param(
                {},
                bad_fields(
                    "name, type: Missing data for required field",
                    name="Missing data for required field.",
                    type="Missing data for required field.",
                ),
                id="empty",
            ),
            pytest.param(
                {"type": "email"},
                bad_body("name", "Missing data for required field."),
                id="no-name",
            ),
            pytest.param(
                {"name": "X"},
                bad_body("type", "Missing data for required field."),
                id="no-type",
            ),
            *[
                pytest.param(
                    {"name": "X", "type": type_},
                    bad_body("type", "Must be one of: email, linkedin."),
                    id=f"type-{type_}",
                )
                for type_ in ("sms", "EMAIL", "", " email")
            ],
            pytest.param(
                {"name": "X", "type": 1},
                bad_body("type", "Not a valid string."),
                id="type-number",
            ),
            pytest.param(
                {"name": "X", "type": None},
                bad_body("type", "Field may not be null."),
                id="type-null",
            ),
            pytest.param(
                {"name": None, "type": "email"},
                bad_body("name", "Field may not be null."),
                id="name-null",
            ),
            *[
                pytest.param(
                    {"name": blank, "type": "email"},
                    bad_body("name", "Field may not be blank."),
                    id=f"name-blank-{len(blank)}",
                )
                for blank in ("", "   ", "\t\n")
            ],
            pytest.param(
                {"name": ["X"], "type": "email"},
                bad_body("name", "Not a valid string."),
                id="name-list",
            ),
            pytest.param(
                {"name": "X", "type": "email", "status": "active"},
                bad_body("status", "Unknown field."),
                id="unknown-key-status",
            ),
            *[
                pytest.param(
                    {"name": name, "type": "email"},
                    bad_body("name", "Longer than maximum length 200."),
                    id=case,
                )
                for case, name in [("name-too-long", "n" * 201), ("name-huge", "x" * 100_000)]
            ],
            pytest.param(
                {"name": 1, "type": "sms"},
                bad_fields(
                    "name: Not a valid string; type: Must be one of: email, linkedin",
                    name="Not a valid string.",
                    type="Must be one of: email, linkedin.",
                ),
                id="number-and-unknown-type",
            ),
            pytest.param(
                {"name": None, "type": None},
                bad_fields(
                    "name, type: Field may not be null",
                    name="Field may not be null.",
                    type="Field may not be null.",
                ),
                id="nulls",
            ),
            pytest.param(
                {"name": ["a"], "type": ["email"]},
                bad_fields(
                    "name, type: Not a valid string",
                    name="Not a valid string.",
                    type="Not a valid string.",
                ),
                id="lists",
            ),
        ],
    )
    def test_invalid_body_is_400_and_creates_nothing(self, rejected, body, error):
        rejected("POST", "/api/campaigns", 400, error, json=body)

    def test_every_unknown_key_is_named(self, api, db):
        before = database_state(db)
        response = api.post(
            "/api/campaigns",
            json={"name": "X", "type": "email", "id": str(uuid.uuid4()), "stats": {}},
        )
        assert response.status_code == 400
        # marshmallow finds unknown keys through a set: their order varies between runs.
        assert response.json in [
            error_body(
                400,
                f"{first}, {second}: Unknown field",
                {"json": {"id": ["Unknown field."], "stats": ["Unknown field."]}},
            )
            for first, second in [("id", "stats"), ("stats", "id")]
        ]
        assert database_state(db) == before


class TestCampaignNameUniqueness:
    @pytest.mark.parametrize(
        ("second_name", "second_type"),
        [
            ("Spring", "email"),
            ("Spring", "linkedin"),
            ("  Spring ", "email"),
        ],
    )
    def test_same_name_in_the_workspace_is_409(self, rejected, api, second_name, second_type):
        api.create_campaign("Spring", "email")
        rejected(
            "POST",
            "/api/campaigns",
            409,
            error_body(409, "A campaign named 'Spring' already exists in this workspace."),
            json={"name": second_name, "type": second_type},
        )

    def test_same_name_in_another_workspace_is_fine(self, api, other_api, db):
        mine = api.create_campaign("Spring", "email")
        theirs = other_api.create_campaign("Spring", "email")
        assert theirs["id"] != mine["id"]
        assert stored_campaign(db, mine["id"]) == as_stored_campaign(mine, "acme")
        assert stored_campaign(db, theirs["id"]) == as_stored_campaign(theirs, "globex")

    def test_other_names_are_fine(self, api, db):
        first = api.create_campaign("Spring", "email")
        second = api.create_campaign("Spring 2", "email")
        assert [row["id"] for row in database_state(db)["campaigns"]] == sorted(
            uuid.UUID(campaign["id"]) for campaign in (first, second)
        )


class TestListCampaigns:
    def test_empty_workspace(self, api, other_api):
        other_api.create_campaign("Theirs", "email")
        response = api.get("/api/campaigns")
        assert response.status_code == 200
        assert response.json == {"campaigns": []}

    def test_own_campaigns_oldest_first(self, api, other_api):
        created = [
            api.create_campaign(name, type_)
            for name, type_ in [("Zeta", "email"), ("Alpha", "linkedin"), ("Mid", "email")]
        ]
        theirs = other_api.create_campaign("Theirs", "linkedin")
        response = api.get("/api/campaigns")
        assert response.status_code == 200
        assert response.json == {"campaigns": created}
        response = other_api.get("/api/campaigns")
        assert response.json == {"campaigns": [theirs]}

    def test_listing_shows_current_status_and_stats(self, api):
        first = api.create_campaign("First", "email")
        second = api.create_campaign("Second", "email")
        launched = move_to(api, first, "active")
        added = api.post(
            f"/api/campaigns/{second['id']}/leads", json={"prospects": [{"email": "a@x.com"}]}
        )
        assert added.status_code == 200, added.json
        response = api.get("/api/campaigns")
        assert response.json == {"campaigns": [launched, {**second, "stats": added.json["stats"]}]}


class TestGetCampaign:
    def test_new_campaign(self, api, db, linkedin_campaign):
        response = api.get(f"/api/campaigns/{linkedin_campaign['id']}")
        assert response.status_code == 200
        assert response.json == {
            "campaign": linkedin_campaign,
            "prospects_by_status": {status: 0 for status in LEAD_STATUSES},
        }

    def test_prospects_by_status_counts_the_roster(self, api, db, email_campaign):
        leads = add_leads(api, email_campaign, [{"email": f"l{i}@x.com"} for i in range(5)])
        with db.cursor() as cursor:
            for lead, status in zip(leads, ["sent", "sent", "replied"], strict=False):
                cursor.execute("UPDATE leads SET status = %s WHERE id = %s", (status, lead["id"]))
        response = api.get(f"/api/campaigns/{email_campaign['id']}")
        assert response.status_code == 200
        expected_counts = {status: 0 for status in LEAD_STATUSES}
        expected_counts.update({"pending": 2, "sent": 2, "replied": 1})
        campaign = response.json["campaign"]
        assert response.json == {
            "campaign": {**email_campaign, "stats": campaign["stats"]},
            "prospects_by_status": expected_counts,
        }
        assert stored_campaign(db, email_campaign["id"]) == as_stored_campaign(campaign, "acme")


class TestTransitions:
    @pytest.mark.parametrize("transition", ["launch", "pause", "resume", "complete"])
    @pytest.mark.parametrize("status", CAMPAIGN_STATUSES)
    def test_transition_from_every_status(self, api, db, email_campaign, status, transition):
        campaign = move_to(api, email_campaign, status)
        before = database_state(db)
        response = api.post(f"/api/campaigns/{campaign['id']}/{transition}")
        target = ALLOWED.get((status, transition))
        if target is None:
            assert response.status_code == 400
            assert response.json == error_body(
                400,
                f"Cannot {transition} a campaign that is {status}; "
                f"it must be {REQUIRED_STATUS[transition]}.",
            )
            assert database_state(db) == before
            return
        assert response.status_code == 200, response.json
        updated_at = response.json["campaign"]["updated_at"]
        expected = {**campaign, "status": target, "updated_at": updated_at}
        assert response.json == {"campaign": expected}
        assert datetime.fromisoformat(updated_at) > datetime.fromisoformat(campaign["updated_at"])
        assert stored_campaign(db, campaign["id"]) == as_stored_campaign(expected, "acme")
        assert api.get(f"/api/campaigns/{campaign['id']}").json["campaign"] == expected

    def test_full_lifecycle(self, api, email_campaign):
        statuses = []
        for transition in ["launch", "pause", "resume", "pause", "complete"]:
            response = api.post(f"/api/campaigns/{email_campaign['id']}/{transition}")
            assert response.status_code == 200, response.json
            statuses.append(response.json["campaign"]["status"])
        assert statuses == ["active", "paused", "active", "paused", "completed"]

    def test_transition_keeps_the_roster(self, api, db, email_campaign):
        add_leads(api, email_campaign, [{"email": "a@x.com"}, {"email": "b@x.com"}])
        leads_before = database_state(db)["leads"]
        response = api.post(f"/api/campaigns/{email_campaign['id']}/launch")
        assert response.status_code == 200, response.json
        assert response.json["campaign"]["stats"]["total"] == 2
        assert database_state(db)["leads"] == leads_before

    @pytest.mark.parametrize("transition", ["start", "stop", "draft", "delete"])
    def test_unknown_transition_is_404(self, rejected, email_campaign, transition):
        rejected("POST", f"/api/campaigns/{email_campaign['id']}/{transition}", 404, NO_ROUTE)

    @pytest.mark.parametrize("transition", ["launch", "pause", "resume", "complete"])
    def test_transitions_are_post_only(self, api, db, email_campaign, transition):
        response = api.get(f"/api/campaigns/{email_campaign['id']}/{transition}")
        assert response.status_code == 405
        assert response.json == error_body(405, "The method is not allowed for the requested URL.")
        assert database_state(db)["campaigns"][0]["status"] == "draft"
