"""PATCH /api/campaigns/{id}/leads: editing one lead of a draft campaign."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from leads_contract.values import IDENTITY_FIELD
from tests.contract import (
    LEAD_KEYS,
    add_leads,
    as_listed,
    bad_body,
    bad_fields,
    bad_request,
    database_state,
    error_body,
    frozen_roster,
    leads_url,
    move_to,
    stored_lead,
    stored_suppressions,
    suppress,
)

ANN = {
    "email": "ann@example.com",
    "linkedin_url": "https://www.linkedin.com/in/ann-lee",
    "first_name": "Ann",
    "last_name": "Lee",
    "company": "Acme",
    "position": "CTO",
    "headline": "Builds things",
    "custom_fields": {"city": "Paris", "tier": 1},
}
BOB = {
    "email": "bob@example.com",
    "linkedin_url": "https://www.linkedin.com/in/bob",
    "first_name": "Bob",
}


@pytest.fixture(params=["email", "linkedin"])
def campaign_type(request) -> str:
    return request.param


@pytest.fixture
def campaign(api, campaign_type) -> dict:
    return api.create_campaign("Update target", campaign_type)


@pytest.fixture
def roster(api, campaign) -> tuple[dict, dict]:
    """Ann (every field set, no explicit name) and Bob in the campaign."""
    ann, bob = add_leads(api, campaign, [ANN, BOB])
    return ann, bob


def assert_updated(
    api,
    db,
    campaign: dict,
    lead: dict,
    updates: dict,
    changes: dict,
    stored_name: str | None = None,
) -> dict:
    """PATCH `updates` and check the response, the listing and the row: exactly `changes`
    applied, updated_at moved, created_at kept, the other leads untouched."""
    others_before = [row for row in database_state(db)["leads"] if str(row["id"]) != lead["id"]]
    response = api.patch(
        leads_url(campaign["id"]), json={"prospect_id": lead["id"], "updates": updates}
    )
    assert response.status_code == 200, response.json
    updated_at = response.json["prospect"]["updated_at"]
    expected = {**lead, **changes, "updated_at": updated_at}
    assert response.json == {"prospect": expected}
    assert datetime.fromisoformat(updated_at) > datetime.fromisoformat(lead["updated_at"])
    stored = stored_lead(db, lead["id"])
    assert as_listed({key: stored[key] for key in LEAD_KEYS}) == expected
    # Only an explicitly given name is stored; the identity follows the identity field.
    assert stored["name"] == stored_name
    assert stored["identity"] == expected[IDENTITY_FIELD[campaign["type"]]]
    others_after = [row for row in database_state(db)["leads"] if str(row["id"]) != lead["id"]]
    assert others_after == others_before
    listed = {item["id"]: item for item in api.get(leads_url(campaign["id"])).json["prospects"]}
    assert listed[lead["id"]] == expected
    return expected


class TestUpdateProfileFields:
    @pytest.mark.parametrize(
        ("updates", "changes"),
        [
            pytest.param(
                {"first_name": "  Annie "}, {"first_name": "Annie", "name": "Annie Lee"}, id="first"
            ),
            pytest.param(
                {"last_name": "Smith"}, {"last_name": "Smith", "name": "Ann Smith"}, id="last"
            ),
            pytest.param({"company": " Globex  "}, {"company": "Globex"}, id="company"),
            pytest.param({"position": "CEO"}, {"position": "CEO"}, id="position"),
            pytest.param({"headline": "x" * 2000}, {"headline": "x" * 2000}, id="headline-max"),
            pytest.param({"company": None}, {"company": None}, id="company-null"),
            pytest.param({"position": ""}, {"position": None}, id="position-empty"),
            pytest.param({"headline": " \t\n "}, {"headline": None}, id="headline-blank"),
            pytest.param(
                {"first_name": None}, {"first_name": None, "name": "Lee"}, id="first-null"
            ),
            pytest.param(
                {"first_name": None, "last_name": "  "},
                {"first_name": None, "last_name": None, "name": None},
                id="both-names-cleared",
            ),
            pytest.param(
                {"custom_fields": {"plan": "pro"}},
                {"custom_fields": {"plan": "pro"}},
                id="custom-fields-replaced-whole",
            ),
            pytest.param(
                {"custom_fields": {"city": "Paris"}},
                {"custom_fields": {"city": "Paris"}},
                id="custom-fields-key-dropped",
            ),
            pytest.param({"custom_fields": {}}, {"custom_fields": {}}, id="custom-fields-empty"),
            pytest.param({"custom_fields": None}, {"custom_fields": {}}, id="custom-fields-null"),
            pytest.param(
                {"company": "Initech", "position": None, "custom_fields": {"a": [1, {"b": None}]}},
                {"company": "Initech", "position": None, "custom_fields": {"a": [1, {"b": None}]}},
                id="several",
            ),
        ],
    )
    def test_field_is_changed(self, api, db, campaign, roster, updates, changes):
        ann, _ = roster
        assert_updated(api, db, campaign, ann, updates, changes)

    def test_updates_accumulate_and_created_at_stays(self, api, db, campaign, roster):
        ann, _ = roster
        first = assert_updated(api, db, campaign, ann, {"company": "One"}, {"company": "One"})
        second = assert_updated(api, db, campaign, first, {"position": "Two"}, {"position": "Two"})
        assert second["created_at"] == ann["created_at"]
        assert second["company"] == "One"

    def test_same_values_still_move_updated_at(self, api, db, campaign, roster):
        ann, _ = roster
        assert_updated(api, db, campaign, ann, {"company": "Acme"}, {})


class TestNameDerivation:
    @pytest.mark.parametrize(
        ("seed_name", "updates", "shown_name", "stored_name"),
        [
            pytest.param(None, {"name": " Dr. Ann "}, "Dr. Ann", "Dr. Ann", id="set-explicit"),
            pytest.param("Annie", {"name": None}, "Ann Lee", None, id="null-derives-again"),
            pytest.param("Annie", {"name": "   "}, "Ann Lee", None, id="blank-derives-again"),
            pytest.param("Annie", {"name": ""}, "Ann Lee", None, id="empty-derives-again"),
            pytest.param("Annie", {"first_name": "Bob"}, "Annie", "Annie", id="explicit-kept"),
            pytest.param(
                "Annie",
                {"name": None, "first_name": "Bo"},
                "Bo Lee",
                None,
                id="cleared-derives-from-new-first-name",
            ),
            pytest.param(
                "Annie",
                {"name": None, "first_name": None, "last_name": None},
                None,
                None,
                id="nothing-to-derive-from",
            ),
        ],
    )
    def test_name(self, api, db, email_campaign, seed_name, updates, shown_name, stored_name):
        seed = {**ANN, "name": seed_name} if seed_name else ANN
        (ann,) = add_leads(api, email_campaign, [seed])
        assert ann["name"] == (seed_name or "Ann Lee")
        changes = {"name": shown_name}
        for field in ("first_name", "last_name"):
            if field in updates:
                changes[field] = updates[field]
        assert_updated(api, db, email_campaign, ann, updates, changes, stored_name=stored_name)


class TestUpdateIdentity:
    @pytest.mark.parametrize(
        ("campaign_type", "field", "sent", "shown"),
        [
            pytest.param(
                "email",
                "email",
                "  Ann.New@Example.COM ",
                "ann.new@example.com",
                id="email-campaign-new-email",
            ),
            pytest.param(
                "email",
                "email",
                "ANN@example.com",
                "ann@example.com",
                id="email-campaign-own-email-other-spelling",
            ),
            pytest.param(
                "email",
                "linkedin_url",
                " HTTP://uk.linkedin.com/in/Ann-Lee-2/recent-activity/?t=x#a ",
                "https://www.linkedin.com/in/ann-lee-2",
                id="email-campaign-other-identity-normalized",
            ),
            pytest.param(
                "email",
                "linkedin_url",
                "https://www.linkedin.com/in/bob",
                "https://www.linkedin.com/in/bob",
                id="email-campaign-other-identity-may-be-shared",
            ),
            pytest.param("email", "linkedin_url", None, None, id="email-campaign-clear-url"),
            pytest.param("email", "linkedin_url", " ", None, id="email-campaign-blank-url"),
            pytest.param(
                "linkedin",
                "linkedin_url",
                "m.linkedin.com/in/ann-lee-2/",
                "https://www.linkedin.com/in/ann-lee-2",
                id="linkedin-campaign-new-url",
            ),
            pytest.param(
                "linkedin",
                "linkedin_url",
                "https://de.linkedin.com/in/ANN-LEE/details/experience/",
                "https://www.linkedin.com/in/ann-lee",
                id="linkedin-campaign-own-url-other-spelling",
            ),
            pytest.param(
                "linkedin",
                "email",
                " Ann.New@Example.com",
                "ann.new@example.com",
                id="linkedin-campaign-other-identity-normalized",
            ),
            pytest.param(
                "linkedin",
                "email",
                "BOB@example.com",
                "bob@example.com",
                id="linkedin-campaign-other-identity-may-be-shared",
            ),
            pytest.param("linkedin", "email", None, None, id="linkedin-clear-email"),
            pytest.param("linkedin", "email", "", None, id="linkedin-empty-email"),
        ],
    )
    def test_identity_fields_are_normalized(self, api, db, campaign, roster, field, sent, shown):
        ann, _ = roster
        assert_updated(api, db, campaign, ann, {field: sent}, {field: shown})

    def test_identity_held_in_another_campaign_is_free(self, api, db, campaign, roster):
        ann, _ = roster
        field = IDENTITY_FIELD[campaign["type"]]
        elsewhere = api.create_campaign("Elsewhere", campaign["type"])
        identity = {"email": "carol@example.com", "linkedin": "https://www.linkedin.com/in/carol"}
        add_leads(api, elsewhere, [{field: identity[campaign["type"]]}])
        assert_updated(
            api,
            db,
            campaign,
            ann,
            {field: identity[campaign["type"]]},
            {field: identity[campaign["type"]]},
        )

    def test_freed_identity_can_be_taken(self, api, db, campaign, roster):
        ann, bob = roster
        field = IDENTITY_FIELD[campaign["type"]]
        new = {"email": "ann2@example.com", "linkedin": "https://www.linkedin.com/in/ann-2"}
        moved = assert_updated(
            api, db, campaign, ann, {field: new[campaign["type"]]}, {field: new[campaign["type"]]}
        )
        assert_updated(api, db, campaign, bob, {field: ann[field]}, {field: ann[field]})
        assert stored_lead(db, moved["id"])["identity"] == new[campaign["type"]]

    @pytest.mark.parametrize(
        ("campaign_type", "spelling"),
        [
            ("email", " BOB@Example.com "),
            ("linkedin", "http://de.linkedin.com/in/Bob/recent-activity/all/"),
        ],
    )
    def test_identity_of_another_lead_is_409(self, rejected, campaign, roster, spelling):
        ann, bob = roster
        field = IDENTITY_FIELD[campaign["type"]]
        rejected(
            "PATCH",
            leads_url(campaign["id"]),
            409,
            error_body(
                409,
                f"Lead {bob['id']} in this campaign already has {field} {bob[field]}.",
                {"json": {"updates": {field: [f"Already used by lead {bob['id']}."]}}},
            ),
            json={"prospect_id": ann["id"], "updates": {field: spelling, "company": "Changed"}},
        )

    @pytest.mark.parametrize(
        ("campaign_type", "updates", "message"),
        [
            ("email", {"email": None}, "email cannot be cleared for email campaigns"),
            ("email", {"email": ""}, "email cannot be cleared for email campaigns"),
            ("email", {"email": "  \t "}, "email cannot be cleared for email campaigns"),
            (
                "linkedin",
                {"linkedin_url": None},
                "linkedin_url cannot be cleared for linkedin campaigns",
            ),
            (
                "linkedin",
                {"linkedin_url": "   "},
                "linkedin_url cannot be cleared for linkedin campaigns",
            ),
            (
                "email",
                {"email": "not-an-email"},
                "email is not a valid email address (An email address must have an @-sign.)",
            ),
            (
                "email",
                {"email": "a" * 250 + "@x.com"},
                "email is longer than 254 characters",
            ),
            (
                "linkedin",
                {"linkedin_url": "https://www.linkedin.com/company/acme"},
                "linkedin_url is not a profile URL (expected /in/<profile>)",
            ),
            (
                "linkedin",
                {"linkedin_url": "https://example.com/in/ann-lee"},
                "linkedin_url is not on a LinkedIn host",
            ),
            # Decision: an explicitly sent but invalid value of the OTHER identity is a 400
            # on PATCH (POST drops it silently): the client asked for that exact change.
            (
                "email",
                {"linkedin_url": "https://www.linkedin.com/company/acme"},
                "linkedin_url is not a profile URL (expected /in/<profile>)",
            ),
            (
                "email",
                {"linkedin_url": "https://example.com/in/ann-lee"},
                "linkedin_url is not on a LinkedIn host",
            ),
            (
                "linkedin",
                {"email": "not-an-email"},
                "email is not a valid email address (An email address must have an @-sign.)",
            ),
        ],
    )
    def test_invalid_or_cleared_identity_is_400(self, rejected, campaign, roster, updates, message):
        ann, _ = roster
        (field,) = updates
        rejected(
            "PATCH",
            leads_url(campaign["id"]),
            400,
            error_body(400, f"updates: {message}", {"json": {"updates": {field: [message]}}}),
            json={"prospect_id": ann["id"], "updates": {**updates, "company": "Changed"}},
        )

    @pytest.mark.parametrize(
        ("campaign_type", "invalid"),
        [
            ("email", {"linkedin_url": "https://www.linkedin.com/company/acme"}),
            ("linkedin", {"email": "not-an-email"}),
        ],
    )
    def test_post_drops_the_same_invalid_other_identity(self, api, campaign, invalid):
        """The contrast with the PATCH decision above: POST stores null instead."""
        field = IDENTITY_FIELD[campaign["type"]]
        identity = {"email": "dan@example.com", "linkedin": "https://www.linkedin.com/in/dan"}
        (lead,) = add_leads(api, campaign, [{field: identity[campaign["type"]], **invalid}])
        (other_field,) = invalid
        assert lead[other_field] is None


@pytest.fixture
def entries(api, db) -> dict[str, dict]:
    """acme's suppression list (an email, a domain, a LinkedIn URL), the stored entries by
    value."""
    suppress(
        api,
        [
            {"kind": "email", "value": "carol@example.com"},
            {"kind": "domain", "value": "initech.com"},
            {"kind": "linkedin_url", "value": "linkedin.com/in/carol"},
        ],
    )
    return {row["value"]: row for row in stored_suppressions(db)}


def suppressed_conflict(field: str, value: str, entry: dict) -> dict:
    """The 409 of an update that gives `field` the suppressed `value`, naming `entry`."""
    return error_body(
        409,
        f"The {field} {value} is on the suppression list: entry {entry['id']}.",
        {
            "json": {
                "updates": {
                    field: [
                        f"Suppressed by entry {entry['id']} ({entry['kind']} {entry['value']})."
                    ]
                }
            }
        },
    )


CAROL_URL = "https://www.linkedin.com/in/carol"


class TestUpdateToASuppressedIdentity:
    @pytest.mark.parametrize(
        ("updates", "field", "shown", "entry"),
        [
            ({"email": " CAROL@example.com"}, "email", "carol@example.com", "carol@example.com"),
            ({"email": "x@initech.com"}, "email", "x@initech.com", "initech.com"),
            ({"email": "x@eu.Initech.com"}, "email", "x@eu.initech.com", "initech.com"),
            ({"linkedin_url": "uk.linkedin.com/in/Carol/"}, "linkedin_url", CAROL_URL, CAROL_URL),
            # Both change and both are suppressed: the most specific entry is named.
            (
                {"email": "carol@example.com", "linkedin_url": "linkedin.com/in/carol"},
                "email",
                "carol@example.com",
                "carol@example.com",
            ),
            (
                {"email": "x@initech.com", "linkedin_url": "linkedin.com/in/carol"},
                "linkedin_url",
                CAROL_URL,
                CAROL_URL,
            ),
        ],
        ids=["email", "domain", "subdomain", "linkedin", "email-first", "url-before-domain"],
    )
    def test_a_suppressed_new_identity_is_409(
        self, rejected, campaign, roster, entries, updates, field, shown, entry
    ):
        # The campaign's own identity and the captured other one, in both campaign types.
        ann, _ = roster
        rejected(
            "PATCH",
            leads_url(campaign["id"]),
            409,
            suppressed_conflict(field, shown, entries[entry]),
            json={"prospect_id": ann["id"], "updates": {**updates, "company": "Changed"}},
        )

    def test_a_look_alike_domain_is_not_suppressed(self, api, db, campaign, roster, entries):
        ann, _ = roster
        assert_updated(
            api, db, campaign, ann, {"email": "x@notinitech.com"}, {"email": "x@notinitech.com"}
        )

    def test_a_lead_suppressed_later_keeps_its_other_fields_editable(
        self, api, db, campaign, roster
    ):
        # Entries added without remove_from_drafts leave the lead in its draft: only a
        # changed identity is checked, so the rest of it can still be edited.
        ann, _ = roster
        suppress(
            api,
            [
                {"kind": "email", "value": ann["email"]},
                {"kind": "linkedin_url", "value": ann["linkedin_url"]},
            ],
        )
        edited = assert_updated(
            api, db, campaign, ann, {"company": "Initech"}, {"company": "Initech"}
        )
        # The same identities, spelled otherwise, are no change.
        edited = assert_updated(
            api,
            db,
            campaign,
            edited,
            {
                "email": ann["email"].upper(),
                "linkedin_url": ann["linkedin_url"] + "/",
                "position": "CEO",
            },
            {"position": "CEO"},
        )
        # Moving off a suppressed identity is allowed too.
        field = IDENTITY_FIELD[campaign["type"]]
        free = {"email": "ann.free@example.com", "linkedin": "https://www.linkedin.com/in/ann-free"}
        assert_updated(
            api,
            db,
            campaign,
            edited,
            {field: free[campaign["type"]]},
            {field: free[campaign["type"]]},
        )

    def test_another_workspaces_entries_do_not_apply(self, api, other_api, db, campaign, roster):
        ann, _ = roster
        suppress(other_api, [{"kind": "email", "value": "carol@example.com"}])
        assert_updated(
            api, db, campaign, ann, {"email": "carol@example.com"}, {"email": "carol@example.com"}
        )


class TestUpdateRejected:
    @pytest.mark.parametrize(
        ("body", "error"),
        [
            pytest.param(
                {"updates": {}},
                bad_request(
                    "updates must hold at least one field",
                    {"json": {"updates": {"_schema": ["updates must hold at least one field."]}}},
                ),
                id="empty-updates",
            ),
            *[
                pytest.param(
                    {"updates": {key: value, "company": "Changed"}},
                    bad_request(
                        f"updates: {key} is not editable",
                        {"json": {"updates": {key: [f"{key} is not editable."]}}},
                    ),
                    id=f"read-only-{key}",
                )
                for key, value in [
                    ("status", "sent"),
                    ("id", str(uuid.uuid4())),
                    ("campaign_id", str(uuid.uuid4())),
                    ("created_at", "2020-01-01T00:00:00+00:00"),
                    ("updated_at", "2020-01-01T00:00:00+00:00"),
                ]
            ],
            pytest.param(
                {"updates": {"status": "pending", "id": None}},
                bad_request(
                    "updates: id is not editable; updates: status is not editable",
                    {
                        "json": {
                            "updates": {
                                "id": ["id is not editable."],
                                "status": ["status is not editable."],
                            }
                        }
                    },
                ),
                id="read-only-several",
            ),
            pytest.param(
                {"updates": {"company": "Changed", "nickname": "Annie"}},
                bad_body("updates.nickname", "Unknown field."),
                id="unknown-update-key",
            ),
            pytest.param(
                {"updates": {"company": "Changed"}, "force": True},
                bad_body("force", "Unknown field."),
                id="unknown-top-level-key",
            ),
            pytest.param(
                {"prospect_id": "not-a-uuid", "updates": {"company": "Changed"}},
                bad_body("prospect_id", "Not a valid UUID."),
                id="non-uuid-prospect-id",
            ),
            pytest.param(
                {"prospect_id": 42, "updates": {"company": "Changed"}},
                bad_body("prospect_id", "Not a valid UUID."),
                id="numeric-prospect-id",
            ),
            pytest.param(
                {"prospect_id": None, "updates": {"company": "Changed"}},
                bad_body("prospect_id", "Field may not be null."),
                id="null-prospect-id",
            ),
            pytest.param(
                {"prospect_id": None},
                bad_fields(
                    "prospect_id: Field may not be null; updates: Missing data for required field",
                    prospect_id="Field may not be null.",
                    updates="Missing data for required field.",
                ),
                id="null-id-missing-updates",
            ),
            pytest.param(
                {"updates": None},
                bad_body("updates", "Field may not be null."),
                id="null-updates",
            ),
            pytest.param(
                {"updates": [{"company": "Changed"}]},
                bad_request(
                    "updates: Invalid input type",
                    {"json": {"updates": {"_schema": ["Invalid input type."]}}},
                ),
                id="list-updates",
            ),
            pytest.param(
                {"updates": {"first_name": "x" * 201}},
                bad_body("updates.first_name", "Longer than maximum length 200."),
                id="first-name-too-long",
            ),
            pytest.param(
                {"updates": {"company": 5}},
                bad_body("updates.company", "Not a valid string."),
                id="company-not-a-string",
            ),
            pytest.param(
                {"updates": {"custom_fields": {"bad key": 1}}},
                bad_body("updates.custom_fields", "Key 'bad key' must match ^[A-Za-z0-9_]{1,64}$."),
                id="custom-fields-bad-key",
            ),
            pytest.param(
                {"updates": {"custom_fields": ["not", "an", "object"]}},
                bad_body("updates.custom_fields", "Not a valid mapping."),
                id="custom-fields-not-object",
            ),
        ],
    )
    def test_rejected_and_nothing_changes(self, rejected, campaign, roster, body, error):
        ann, _ = roster
        rejected(
            "PATCH",
            leads_url(campaign["id"]),
            400,
            error,
            json={"prospect_id": ann["id"], **body},
        )

    def test_empty_object(self, rejected, campaign, roster):
        rejected(
            "PATCH",
            leads_url(campaign["id"]),
            400,
            error_body(
                400,
                "prospect_id, updates: Missing data for required field",
                {
                    "json": {
                        "prospect_id": ["Missing data for required field."],
                        "updates": ["Missing data for required field."],
                    }
                },
            ),
            json={},
        )


class TestUpdateNotFound:
    @pytest.mark.parametrize("where", ["nowhere", "same-workspace", "other-workspace"])
    def test_lead_outside_the_campaign_is_404(
        self, rejected, api, other_api, campaign, roster, where
    ):
        if where == "nowhere":
            lead_id = str(uuid.uuid4())
        elif where == "same-workspace":
            sibling = api.create_campaign("Sibling", campaign["type"])
            lead_id = add_leads(api, sibling, [ANN])[0]["id"]
        else:
            foreign = other_api.create_campaign("Foreign", campaign["type"])
            lead_id = add_leads(other_api, foreign, [ANN])[0]["id"]
        rejected(
            "PATCH",
            leads_url(campaign["id"]),
            404,
            error_body(404, "Lead not found in this campaign."),
            json={"prospect_id": lead_id, "updates": {"company": "Changed"}},
        )

    def test_deleted_lead_is_404(self, rejected, api, campaign, roster):
        ann, _ = roster
        response = api.delete(leads_url(campaign["id"]), json={"prospect_ids": [ann["id"]]})
        assert response.status_code == 200, response.json
        rejected(
            "PATCH",
            leads_url(campaign["id"]),
            404,
            error_body(404, "Lead not found in this campaign."),
            json={"prospect_id": ann["id"], "updates": {"company": "X"}},
        )


class TestUpdateFrozenRoster:
    @pytest.mark.parametrize("status", ["active", "paused", "completed"])
    def test_only_draft_campaigns_are_editable(self, rejected, api, campaign, roster, status):
        ann, _ = roster
        move_to(api, campaign, status)
        rejected(
            "PATCH",
            leads_url(campaign["id"]),
            400,
            bad_request(frozen_roster(status)),
            json={"prospect_id": ann["id"], "updates": {"company": "Late"}},
        )
