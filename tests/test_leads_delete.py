"""DELETE /api/campaigns/{id}/leads: removing leads by id or all of them, draft only."""

from __future__ import annotations

import uuid

import pytest

from leads_contract.values import LEAD_STATUSES
from tests.contract import (
    JSON,
    add_leads,
    bad_body,
    bad_request,
    database_state,
    error_body,
    frozen_roster,
    leads_url,
    move_to,
    recount,
    set_statuses,
    stats_of,
    stored_lead_ids,
    stored_stats,
)

# The six seeded leads get these statuses (set in the database: the API never sets one),
# so that the stats after a delete have more than `pending` to get right.
SEED_STATUSES = ("pending", "pending", "sent", "replied", "cancelled", "bounced")
EXACTLY_ONE = 'Send exactly one of "prospect_ids" and "all" (a wipe is never implied)'
NEITHER_OR_BOTH = bad_request(EXACTLY_ONE, {"json": {"_schema": [f"{EXACTLY_ONE}."]}})


def seed(api, db, campaign: dict, prefix: str = "lead") -> list[str]:
    """Six leads with SEED_STATUSES; their ids in order."""
    leads = add_leads(
        api, campaign, [{"email": f"{prefix}{i}@example.com"} for i in range(len(SEED_STATUSES))]
    )
    ids = [lead["id"] for lead in leads]
    set_statuses(db, dict(zip(ids, SEED_STATUSES, strict=True)))
    return ids


def assert_deleted(api, db, campaign: dict, body: dict, deleted: int, remaining: list[str]):
    """DELETE `body`: the count, the stats (as stored and as recounted), what is left."""
    response = api.delete(leads_url(campaign["id"]), json=body)
    assert response.status_code == 200, response.json
    stats = response.json["stats"]
    assert response.json == {
        "deleted": deleted,
        "stats": stats_of(recount(db, campaign["id"]), stats["last_synced_at"]),
    }
    assert stored_stats(db, campaign["id"]) == stats
    assert stored_lead_ids(db, campaign["id"]) == remaining
    shown = api.get(f"/api/campaigns/{campaign['id']}").json
    assert shown["campaign"]["stats"] == stats
    assert shown["prospects_by_status"] == {status: stats[status] for status in LEAD_STATUSES}
    return response.json


class TestDeleteByIds:
    @pytest.mark.parametrize(
        ("picked", "unknown", "deleted"),
        [
            pytest.param([0], 0, 1, id="one"),
            pytest.param([1, 3, 5], 0, 3, id="several"),
            pytest.param([2, 2, 2], 0, 1, id="repeated-id-counts-once"),
            pytest.param([0, 1, 2, 3, 4, 5], 0, 6, id="every-lead"),
            pytest.param([4], 3, 1, id="with-unknown-ids"),
            pytest.param([], 2, 0, id="only-unknown-ids"),
        ],
    )
    def test_deletes_the_given_leads(self, api, db, email_campaign, picked, unknown, deleted):
        ids = seed(api, db, email_campaign)
        body = {"prospect_ids": [ids[i] for i in picked] + [str(uuid.uuid4())] * unknown}
        remaining = [lead_id for i, lead_id in enumerate(ids) if i not in picked]
        assert_deleted(api, db, email_campaign, body, deleted, remaining)

    def test_leads_of_other_campaigns_are_skipped(
        self, api, other_api, db, email_campaign, linkedin_campaign
    ):
        ids = seed(api, db, email_campaign)
        sibling_ids = [
            lead["id"]
            for lead in add_leads(
                api, linkedin_campaign, [{"linkedin_url": "https://www.linkedin.com/in/sib"}]
            )
        ]
        foreign = other_api.create_campaign("Foreign", "email")
        foreign_ids = seed(other_api, db, foreign, prefix="foreign")
        before = database_state(db)

        body = {"prospect_ids": [sibling_ids[0], ids[1], foreign_ids[0], foreign_ids[1]]}
        assert_deleted(api, db, email_campaign, body, 1, [ids[0], *ids[2:]])

        after = database_state(db)
        untouched = {uuid.UUID(i) for i in sibling_ids + foreign_ids}
        assert [row for row in after["leads"] if row["id"] in untouched] == [
            row for row in before["leads"] if row["id"] in untouched
        ]
        others = [c for c in before["campaigns"] if str(c["id"]) != email_campaign["id"]]
        assert [c for c in after["campaigns"] if str(c["id"]) != email_campaign["id"]] == others

    @pytest.mark.parametrize(
        "spelling",
        [
            pytest.param(str.upper, id="uppercase"),
            pytest.param(lambda lead_id: "{" + uuid.UUID(lead_id).hex + "}", id="braced-hex"),
            pytest.param(lambda lead_id: uuid.UUID(lead_id).hex.upper(), id="bare-hex"),
        ],
    )
    def test_any_spelling_of_an_id_deletes_its_lead(self, api, db, email_campaign, spelling):
        """Canonical ids go to the database as text; other spellings take fields.UUID."""
        ids = seed(api, db, email_campaign)
        body = {"prospect_ids": [spelling(ids[1]), ids[2]]}
        assert_deleted(api, db, email_campaign, body, 2, [ids[0], *ids[3:]])

    def test_500_ids_are_accepted(self, api, db, email_campaign):
        ids = seed(api, db, email_campaign)
        body = {"prospect_ids": [ids[0]] + [str(uuid.uuid4()) for _ in range(499)]}
        assert_deleted(api, db, email_campaign, body, 1, ids[1:])

    @pytest.mark.parametrize(
        ("prospect_ids", "error"),
        [
            pytest.param(
                [],
                bad_body("prospect_ids", "Length must be between 1 and 500."),
                id="zero-ids",
            ),
            pytest.param(
                "FIRST+500",
                bad_body("prospect_ids", "Length must be between 1 and 500."),
                id="501-ids",
            ),
            pytest.param(
                ["FIRST", "not-a-uuid", "FIRST", 7],
                bad_request(
                    "prospect_ids[1], prospect_ids[3]: Not a valid UUID",
                    {
                        "json": {
                            "prospect_ids": {"1": ["Not a valid UUID."], "3": ["Not a valid UUID."]}
                        }
                    },
                ),
                id="non-uuid-ids",
            ),
            pytest.param("FIRST", bad_body("prospect_ids", "Not a valid list."), id="not-a-list"),
            pytest.param(None, bad_body("prospect_ids", "Field may not be null."), id="null"),
        ],
    )
    def test_bad_ids_are_400_and_delete_nothing(
        self, rejected, api, db, email_campaign, prospect_ids, error
    ):
        ids = seed(api, db, email_campaign)
        if prospect_ids == "FIRST+500":
            prospect_ids = [ids[0]] + [str(uuid.uuid4()) for _ in range(500)]
        elif prospect_ids == "FIRST":
            prospect_ids = ids[0]
        elif isinstance(prospect_ids, list):
            prospect_ids = [ids[0] if item == "FIRST" else item for item in prospect_ids]
        rejected(
            "DELETE",
            leads_url(email_campaign["id"]),
            400,
            error,
            json={"prospect_ids": prospect_ids},
        )


class TestDeleteAll:
    def test_all_removes_every_lead_of_this_campaign_only(
        self, api, other_api, db, email_campaign, linkedin_campaign
    ):
        seed(api, db, email_campaign)
        add_leads(api, linkedin_campaign, [{"linkedin_url": "https://www.linkedin.com/in/sib"}])
        foreign = other_api.create_campaign("Foreign", "email")
        seed(other_api, db, foreign, prefix="foreign")
        before = database_state(db)

        body = assert_deleted(api, db, email_campaign, {"all": True}, 6, [])
        assert body["stats"] == {
            "total": 0,
            **{status: 0 for status in LEAD_STATUSES},
            "contacted": 0,
            "last_synced_at": body["stats"]["last_synced_at"],
        }

        after = database_state(db)
        mine = uuid.UUID(email_campaign["id"])
        assert after["leads"] == [row for row in before["leads"] if row["campaign_id"] != mine]
        assert [c for c in after["campaigns"] if c["id"] != mine] == [
            c for c in before["campaigns"] if c["id"] != mine
        ]

    def test_all_on_an_empty_roster_deletes_nothing(self, api, db, email_campaign):
        assert_deleted(api, db, email_campaign, {"all": True}, 0, [])

    def test_leads_can_be_added_again_after_a_wipe(self, api, db, email_campaign):
        seed(api, db, email_campaign)
        assert_deleted(api, db, email_campaign, {"all": True}, 6, [])
        leads = add_leads(api, email_campaign, [{"email": "lead0@example.com"}])
        assert [lead["email"] for lead in leads] == ["lead0@example.com"]
        assert sum(recount(db, email_campaign["id"]).values()) == 1


class TestSelectorRules:
    @pytest.mark.parametrize(
        ("body", "error"),
        [
            pytest.param({}, NEITHER_OR_BOTH, id="none"),
            pytest.param({"all": True, "prospect_ids": ["FIRST"]}, NEITHER_OR_BOTH, id="both"),
            pytest.param(
                {"all": False, "prospect_ids": ["FIRST"]},
                NEITHER_OR_BOTH,
                id="both-with-all-false",
            ),
            pytest.param(
                {"all": False},
                bad_body("all", 'Must be true; to remove some leads send "prospect_ids".'),
                id="all-false",
            ),
            *[
                pytest.param(
                    {"all": value},
                    bad_body("all", "Not a valid boolean."),
                    id=f"all-{value!r}",
                )
                for value in ["true", "yes", 1, 1.0, [True], {"x": True}]
            ],
            pytest.param({"all": None}, bad_body("all", "Field may not be null."), id="all-null"),
            pytest.param(
                {"all": True, "force": True},
                bad_body("force", "Unknown field."),
                id="unknown-key",
            ),
            pytest.param(
                {"ids": ["FIRST"]},
                bad_body("ids", "Unknown field."),
                id="misspelled-key",
            ),
        ],
    )
    def test_rejected_and_nothing_deleted(self, rejected, api, db, email_campaign, body, error):
        ids = seed(api, db, email_campaign)
        body = {
            key: [ids[0] if item == "FIRST" else item for item in value]
            if key in ("prospect_ids", "ids")
            else value
            for key, value in body.items()
        }
        rejected(
            "DELETE",
            leads_url(email_campaign["id"]),
            400,
            error,
            json=body,
        )

    @pytest.mark.parametrize(
        "raw",
        [pytest.param(None, id="no-body"), pytest.param(b"{}", id="empty-object")],
    )
    def test_a_wipe_is_never_implied(self, api, db, email_campaign, raw):
        seed(api, db, email_campaign)
        before = database_state(db)
        if raw is None:
            response = api.delete(leads_url(email_campaign["id"]))
        else:
            response = api.delete(
                leads_url(email_campaign["id"]),
                data=raw,
                headers=JSON,
            )
        assert response.status_code == 400
        assert response.json == NEITHER_OR_BOTH
        assert database_state(db) == before


class TestDeleteFrozenRoster:
    @pytest.mark.parametrize("status", ["active", "paused", "completed"])
    @pytest.mark.parametrize("selector", ["ids", "all"])
    def test_only_draft_rosters_shrink(self, rejected, api, db, email_campaign, status, selector):
        ids = seed(api, db, email_campaign)
        move_to(api, email_campaign, status)
        body = {"prospect_ids": ids[:2]} if selector == "ids" else {"all": True}
        rejected(
            "DELETE",
            leads_url(email_campaign["id"]),
            400,
            bad_request(frozen_roster(status)),
            json=body,
        )


class TestValidationOrder:
    """README "Validation order": POST and PATCH look the campaign up first (404 before any
    400); DELETE validates its body first. Either way nothing is written."""

    @pytest.mark.parametrize(
        ("method", "body", "status", "message", "errors"),
        [
            ("POST", {"prospects": []}, 404, "Campaign not found.", None),
            ("PATCH", {"prospect_id": "nope"}, 404, "Campaign not found.", None),
            (
                "DELETE",
                {"prospect_ids": []},
                400,
                "prospect_ids: Length must be between 1 and 500",
                {"json": {"prospect_ids": ["Length must be between 1 and 500."]}},
            ),
        ],
    )
    def test_unknown_campaign_with_a_bad_body(self, api, db, method, body, status, message, errors):
        before = database_state(db)
        response = api.request(method, f"/api/campaigns/{uuid.uuid4()}/leads", json=body)
        assert (response.status_code, response.json) == (
            status,
            error_body(status, message, errors),
        )
        assert database_state(db) == before
