"""POST /api/campaigns/{id}/leads: validation, normalization, dedup, stats, dry run, limits."""

from __future__ import annotations

import json

import pytest

from app import create_app
from leads.config import DEFAULT_MAX_BODY_BYTES
from leads_contract.values import IDENTITY_FIELD
from tests.contract import (
    ANN_PROFILE,
    MISSING_CAMPAIGNS,
    MISSING_UUID,
    NOT_FOUND,
    PROFILE_FIELDS,
    TEXT_FIELDS,
    ApiClient,
    assert_stats_match_roster,
    bad_body,
    bad_query,
    bad_request,
    database_state,
    frozen_roster,
    ids_by_identity,
    leads_url,
    missing_campaign_id,
    move_to,
    result,
    row_error,
    stored_lead,
    stored_leads,
    stored_stats,
)

# A character outside the BMP: 12 bytes on the wire as a JSON \u escape pair.
ASTRAL = "\U0001d400"


def row_errors(by_index: dict) -> dict:
    return {"json": {"prospects": {str(index): fields for index, fields in by_index.items()}}}


def add(api: ApiClient, campaign_id: str, prospects: list, query: str = ""):
    return api.post(leads_url(campaign_id) + query, json={"prospects": prospects})


def add_ok(api: ApiClient, campaign_id: str, prospects: list, query: str = "") -> dict:
    response = add(api, campaign_id, prospects, query)
    assert response.status_code == 200, response.json
    return response.json


def custom_fields_of_size(size: int, char: str = "x") -> dict:
    """{"k": "<char * n>"} whose compact UTF-8 serialization is exactly `size` bytes."""
    overhead = len('{"k":""}')
    char_bytes = len(char.encode("utf-8"))
    assert (size - overhead) % char_bytes == 0
    value = {"k": char * ((size - overhead) // char_bytes)}
    assert len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()) == size
    return value


@pytest.fixture
def campaign(request, api) -> dict:
    """A draft campaign of the type the test is parametrized with (`campaign_type`)."""
    return api.create_campaign(f"{request.param} campaign", request.param)


def identity_row(campaign_type: str, n: int) -> dict:
    if campaign_type == "email":
        return {"email": f"lead{n}@example.com"}
    return {"linkedin_url": f"https://www.linkedin.com/in/lead-{n}"}


def identity_of(campaign_type: str, n: int) -> str:
    return next(iter(identity_row(campaign_type, n).values()))


class TestBatchSize:
    @pytest.mark.parametrize("campaign", ["email", "linkedin"], indirect=True)
    @pytest.mark.parametrize("count", [1, 2, 1000])
    def test_one_to_a_thousand_rows_are_imported(self, api, db, campaign, count):
        rows = [identity_row(campaign["type"], n) for n in range(count)]
        body = add_ok(api, campaign["id"], rows)

        stored = stored_leads(db, campaign["id"])
        assert [lead["identity"] for lead in stored] == [
            identity_of(campaign["type"], n) for n in range(count)
        ]
        assert body == {
            "imported": count,
            "duplicates": 0,
            "suppressed": 0,
            "results": [
                result(n, "imported", lead["id"], lead["identity"], None)
                for n, lead in enumerate(stored)
            ],
            "stats": stored_stats(db, campaign["id"]),
        }
        assert body["stats"]["total"] == body["stats"]["pending"] == count
        assert_stats_match_roster(db, campaign["id"], body["stats"])

    @pytest.mark.parametrize("count", [0, 1001])
    def test_zero_or_more_than_a_thousand_rows_are_rejected(
        self, rejected_rows, api, email_campaign, count
    ):
        add_ok(api, email_campaign["id"], [identity_row("email", 5000)])
        rejected_rows(
            email_campaign,
            [identity_row("email", n) for n in range(count)],
            bad_body("prospects", "Length must be between 1 and 1000."),
        )

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            (
                {},
                bad_body("prospects", "Missing data for required field."),
            ),
            (
                {"prospects": None},
                bad_body("prospects", "Field may not be null."),
            ),
            (
                {"prospects": {"email": "a@example.com"}},
                bad_body("prospects", "Not a valid list."),
            ),
            (
                {"prospects": ["a@example.com", None]},
                bad_request(
                    "prospects[0]: Invalid input type; prospects[1]: Field may not be null",
                    {
                        "json": {
                            "prospects": {
                                "0": {"_schema": ["Invalid input type."]},
                                "1": ["Field may not be null."],
                            }
                        }
                    },
                ),
            ),
            (
                {"prospects": [{"email": "a@example.com"}], "campaign_id": "x"},
                bad_body("campaign_id", "Unknown field."),
            ),
        ],
    )
    def test_malformed_envelopes_are_rejected(self, rejected, email_campaign, body, error):
        rejected("POST", leads_url(email_campaign["id"]), 400, error, json=body)


class TestChannelIdentity:
    @pytest.mark.parametrize(
        ("campaign_type", "row", "message"),
        [
            ("email", {}, "email is required for email campaigns"),
            ("email", {"email": None}, "email is required for email campaigns"),
            ("email", {"email": ""}, "email is required for email campaigns"),
            ("email", {"email": " \t\n "}, "email is required for email campaigns"),
            (
                "email",
                {"linkedin_url": "https://www.linkedin.com/in/ann"},
                "email is required for email campaigns",
            ),
            (
                "email",
                {"email": "not-an-email"},
                "email is not a valid email address (An email address must have an @-sign.)",
            ),
            ("linkedin", {}, "linkedin_url is required for linkedin campaigns"),
            ("linkedin", {"linkedin_url": None}, "linkedin_url is required for linkedin campaigns"),
            (
                "linkedin",
                {"linkedin_url": "   "},
                "linkedin_url is required for linkedin campaigns",
            ),
            (
                "linkedin",
                {"email": "ann@example.com"},
                "linkedin_url is required for linkedin campaigns",
            ),
            (
                "linkedin",
                {"linkedin_url": "https://www.linkedin.com/company/acme"},
                "linkedin_url is not a profile URL (expected /in/<profile>)",
            ),
            (
                "linkedin",
                {"linkedin_url": "https://example.com/in/ann"},
                "linkedin_url is not on a LinkedIn host",
            ),
        ],
    )
    def test_a_row_without_a_valid_campaign_identity_rejects_the_request(
        self, rejected_rows, api, campaign_type, row, message
    ):
        campaign = api.create_campaign("Identity", campaign_type)
        add_ok(api, campaign["id"], [identity_row(campaign_type, 0)])
        field = IDENTITY_FIELD[campaign_type]

        rejected_rows(
            campaign,
            [identity_row(campaign_type, 1), {"first_name": "Bad", **row}],
            bad_request(f"prospects[1]: {message}", row_errors({1: {field: [message]}})),
        )

    @pytest.mark.parametrize(
        ("campaign_type", "field"),
        [
            ("email", "email"),
            ("email", "linkedin_url"),
            ("linkedin", "linkedin_url"),
            ("linkedin", "email"),
        ],
    )
    @pytest.mark.parametrize("value", [42, ["ann@example.com"], {"url": "x"}, True])
    def test_an_identity_that_is_not_a_string_is_rejected_even_when_optional(
        self, rejected_rows, api, campaign_type, field, value
    ):
        campaign = api.create_campaign("Types", campaign_type)
        rejected_rows(
            campaign,
            [{**identity_row(campaign_type, 1), field: value}],
            row_error(0, field, "Not a valid string."),
        )

    @pytest.mark.parametrize(
        ("campaign_type", "other_value", "stored"),
        [
            (
                "email",
                "https://uk.linkedin.com/in/Ann-Lee/?trk=x",
                "https://www.linkedin.com/in/ann-lee",
            ),
            (
                "email",
                "linkedin.com/pub/ann-lee/1a/2b/3c",
                "https://www.linkedin.com/pub/ann-lee/1a/2b/3c",
            ),
            ("email", "https://www.linkedin.com/company/acme", None),
            ("email", "https://example.com/in/ann", None),
            ("email", "not a url", None),
            ("email", "   ", None),
            ("email", None, None),
            ("email", "https://www.linkedin.com/in/ann?q=" + "x" * (513 - 34), None),
            ("linkedin", " Ann.Lee@Example.COM ", "ann.lee@example.com"),
            ("linkedin", "not-an-email", None),
            ("linkedin", "ann@", None),
            ("linkedin", "", None),
            ("linkedin", None, None),
            (
                "linkedin",
                "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".com",
                None,
            ),
        ],
    )
    def test_the_other_identity_is_captured_when_valid_and_null_when_invalid(
        self, api, db, campaign_type, other_value, stored
    ):
        campaign = api.create_campaign("Other identity", campaign_type)
        field, other_field = (
            ("email", "linkedin_url") if campaign_type == "email" else ("linkedin_url", "email")
        )
        row = {**identity_row(campaign_type, 1), other_field: other_value}

        body = add_ok(api, campaign["id"], [row])

        [lead] = stored_leads(db, campaign["id"])
        assert lead[field] == lead["identity"] == identity_of(campaign_type, 1)
        assert lead[other_field] == stored
        assert body["results"] == [result(0, "imported", lead["id"], lead["identity"], None)]

    @pytest.mark.parametrize(
        ("campaign_type", "rows"),
        [
            (
                "linkedin",
                [
                    {"linkedin_url": "https://www.linkedin.com/in/ann", "email": "team@acme.com"},
                    {"linkedin_url": "https://www.linkedin.com/in/bob", "email": "TEAM@acme.com"},
                ],
            ),
            (
                "email",
                [
                    {"email": "ann@acme.com", "linkedin_url": "https://www.linkedin.com/in/acme"},
                    {"email": "bob@acme.com", "linkedin_url": "linkedin.com/in/ACME/"},
                ],
            ),
        ],
    )
    def test_leads_may_share_the_other_identity(self, api, db, campaign_type, rows):
        campaign = api.create_campaign("Shared", campaign_type)
        add_ok(api, campaign["id"], rows[:1])

        body = add_ok(api, campaign["id"], rows[1:])

        stored = stored_leads(db, campaign["id"])
        other_field = "linkedin_url" if campaign_type == "email" else "email"
        assert len(stored) == 2
        assert stored[0][other_field] == stored[1][other_field]
        assert body["imported"] == 1
        assert body["results"] == [
            result(0, "imported", stored[1]["id"], stored[1]["identity"], None)
        ]


class TestNormalization:
    @pytest.mark.parametrize(
        ("campaign_type", "raw", "normalized"),
        [
            ("email", "  Ann.Lee@Example.COM\t", "ann.lee@example.com"),
            ("email", "BOB@EXAMPLE.ORG", "bob@example.org"),
            ("linkedin", "linkedin.com/in/Ann-Lee/", "https://www.linkedin.com/in/ann-lee"),
            (
                "linkedin",
                "http://uk.linkedin.com/in/ann?trk=abc#top",
                "https://www.linkedin.com/in/ann",
            ),
            ("linkedin", "HTTPS://M.LinkedIn.com/in/ANN/en/", "https://www.linkedin.com/in/ann"),
            (
                "linkedin",
                " https://de.linkedin.com/in/ann/recent-activity/all/ ",
                "https://www.linkedin.com/in/ann",
            ),
            (
                "linkedin",
                "www.linkedin.com/in/ann/details/experience/",
                "https://www.linkedin.com/in/ann",
            ),
            (
                "linkedin",
                "https://www.linkedin.com/in/j%c3%96rg",
                "https://www.linkedin.com/in/j%C3%B6rg",
            ),
            (
                "linkedin",
                "https://www.linkedin.com/in/jörg///",
                "https://www.linkedin.com/in/j%C3%B6rg",
            ),
            (
                "linkedin",
                "http://www.linkedin.com/pub/Ann-Lee/1A/2b/3c/",
                "https://www.linkedin.com/pub/ann-lee/1a/2b/3c",
            ),
        ],
    )
    def test_the_identity_is_stored_and_reported_normalized(
        self, api, db, campaign_type, raw, normalized
    ):
        campaign = api.create_campaign("Normalize", campaign_type)
        field = IDENTITY_FIELD[campaign_type]

        body = add_ok(api, campaign["id"], [{field: raw}])

        [lead] = stored_leads(db, campaign["id"])
        assert lead[field] == lead["identity"] == normalized
        assert body["results"] == [result(0, "imported", lead["id"], normalized, None)]
        listed = api.get(leads_url(campaign["id"])).json["prospects"]
        assert [item[field] for item in listed] == [normalized]

    @pytest.mark.parametrize(
        ("campaign_type", "variants"),
        [
            ("email", ["ann@example.com", " ANN@example.com ", "Ann@Example.Com"]),
            (
                "linkedin",
                [
                    "https://www.linkedin.com/in/jörg",
                    "http://de.linkedin.com/in/J%C3%B6rg/?trk=1",
                    "linkedin.com/in/JÖRG/recent-activity/",
                    "m.linkedin.com/in/j%c3%b6rg#about",
                ],
            ),
        ],
    )
    def test_variants_of_one_identity_deduplicate(self, api, db, campaign_type, variants):
        campaign = api.create_campaign("Variants", campaign_type)
        field = IDENTITY_FIELD[campaign_type]

        body = add_ok(api, campaign["id"], [{field: variant} for variant in variants])

        [lead] = stored_leads(db, campaign["id"])
        assert body == {
            "imported": 1,
            "duplicates": len(variants) - 1,
            "suppressed": 0,
            "results": [result(0, "imported", lead["id"], lead["identity"], None)]
            + [
                result(index, "duplicate", lead["id"], lead["identity"], "batch")
                for index in range(1, len(variants))
            ],
            "stats": stored_stats(db, campaign["id"]),
        }


class TestDedup:
    def test_within_the_batch_the_first_occurrence_wins(self, api, db, email_campaign):
        rows = [
            {"email": "ann@example.com", "first_name": "First"},
            {"email": "bob@example.com"},
            {"email": "ANN@example.com", "first_name": "Second", "company": "Acme"},
            {"email": "bob@example.com", "last_name": "Later"},
            {"email": " ann@EXAMPLE.com ", "first_name": "Third"},
        ]

        body = add_ok(api, email_campaign["id"], rows)

        ann, bob = stored_leads(db, email_campaign["id"])
        assert (ann["identity"], ann["first_name"], ann["company"]) == (
            "ann@example.com",
            "First",
            None,
        )
        assert (bob["identity"], bob["last_name"]) == ("bob@example.com", None)
        assert body == {
            "imported": 2,
            "duplicates": 3,
            "suppressed": 0,
            "results": [
                result(0, "imported", ann["id"], "ann@example.com", None),
                result(1, "imported", bob["id"], "bob@example.com", None),
                result(2, "duplicate", ann["id"], "ann@example.com", "batch"),
                result(3, "duplicate", bob["id"], "bob@example.com", "batch"),
                result(4, "duplicate", ann["id"], "ann@example.com", "batch"),
            ],
            "stats": stored_stats(db, email_campaign["id"]),
        }
        assert body["imported"] + body["duplicates"] == len(rows)
        assert_stats_match_roster(db, email_campaign["id"], body["stats"])

    @pytest.mark.parametrize("campaign", ["email", "linkedin"], indirect=True)
    def test_against_the_roster_the_existing_lead_wins_unmodified(self, api, db, campaign):
        kind = campaign["type"]
        field = IDENTITY_FIELD[kind]
        add_ok(
            api,
            campaign["id"],
            [
                {
                    **identity_row(kind, 1),
                    "first_name": "Original",
                    "company": "Old Co",
                    "custom_fields": {"tier": "gold"},
                },
                identity_row(kind, 2),
            ],
        )
        existing = ids_by_identity(db, campaign["id"])
        one, two = existing[identity_of(kind, 1)], existing[identity_of(kind, 2)]
        with db.cursor() as cursor:  # a status the new row must not reset either
            cursor.execute("UPDATE leads SET status = 'sent' WHERE id = %s", (two,))
        rows_before = {lead_id: stored_lead(db, lead_id) for lead_id in (one, two)}
        variant = (
            identity_of(kind, 1).upper()
            if kind == "email"
            else (identity_of(kind, 1).replace("https://www.", "http://M.") + "/?trk=x")
        )

        rows = [
            identity_row(kind, 3),
            {
                field: variant,
                "first_name": "Changed",
                "name": "New Name",
                "company": "New Co",
                "custom_fields": {"tier": "silver"},
            },
            {**identity_row(kind, 2), "last_name": "Changed"},
            {field: variant, "headline": "Again"},
            identity_row(kind, 3),
        ]
        body = add_ok(api, campaign["id"], rows)

        three = ids_by_identity(db, campaign["id"])[identity_of(kind, 3)]
        assert {lead_id: stored_lead(db, lead_id) for lead_id in (one, two)} == rows_before
        assert body == {
            "imported": 1,
            "duplicates": 4,
            "suppressed": 0,
            "results": [
                result(0, "imported", three, identity_of(kind, 3), None),
                result(1, "duplicate", one, identity_of(kind, 1), "campaign"),
                result(2, "duplicate", two, identity_of(kind, 2), "campaign"),
                result(3, "duplicate", one, identity_of(kind, 1), "batch"),
                result(4, "duplicate", three, identity_of(kind, 3), "batch"),
            ],
            "stats": stored_stats(db, campaign["id"]),
        }
        assert len(stored_leads(db, campaign["id"])) == 3
        assert_stats_match_roster(db, campaign["id"], body["stats"])

    def test_dedup_is_per_campaign(self, api, db):
        first = api.create_campaign("First", "email")
        second = api.create_campaign("Second", "email")
        add_ok(api, first["id"], [{"email": "ann@example.com"}])

        body = add_ok(api, second["id"], [{"email": "ann@example.com"}])

        [lead] = stored_leads(db, second["id"])
        assert body["results"] == [result(0, "imported", lead["id"], "ann@example.com", None)]
        assert len(stored_leads(db, first["id"])) == 1

    def test_a_batch_of_only_duplicates_imports_nothing(self, api, db, email_campaign):
        add_ok(api, email_campaign["id"], [{"email": "ann@example.com"}])
        [ann] = stored_leads(db, email_campaign["id"])
        row_before = stored_lead(db, ann["id"])

        body = add_ok(api, email_campaign["id"], [{"email": "Ann@example.com"}] * 3)

        assert body == {
            "imported": 0,
            "duplicates": 3,
            "suppressed": 0,
            "results": [result(0, "duplicate", ann["id"], "ann@example.com", "campaign")]
            + [result(i, "duplicate", ann["id"], "ann@example.com", "batch") for i in (1, 2)],
            "stats": stored_stats(db, email_campaign["id"]),
        }
        assert stored_lead(db, ann["id"]) == row_before
        assert_stats_match_roster(db, email_campaign["id"], body["stats"])


class TestResultsAndStats:
    def test_results_follow_input_order_and_stats_follow_the_roster(
        self, api, db, linkedin_campaign
    ):
        campaign_id = linkedin_campaign["id"]
        add_ok(api, campaign_id, [identity_row("linkedin", n) for n in range(6)])
        leads = ids_by_identity(db, campaign_id)
        with db.cursor() as cursor:  # the roster moves on outside the API (triggers keep counts)
            for n, status in enumerate(["sent", "replied", "cancelled", "bounced"]):
                cursor.execute(
                    "UPDATE leads SET status = %s WHERE id = %s",
                    (status, leads[identity_of("linkedin", n)]),
                )
        numbers = [9, 3, 10, 9, 7, 0, 11, 10]

        body = add_ok(api, campaign_id, [identity_row("linkedin", n) for n in numbers])

        leads = ids_by_identity(db, campaign_id)
        seen = set()
        expected_results = []
        for index, n in enumerate(numbers):
            identity = identity_of("linkedin", n)
            if n in seen:
                outcome, duplicate_of = "duplicate", "batch"
            elif n < 6:
                outcome, duplicate_of = "duplicate", "campaign"
            else:
                outcome, duplicate_of = "imported", None
            seen.add(n)
            expected_results.append(result(index, outcome, leads[identity], identity, duplicate_of))
        assert body == {
            "imported": 4,
            "duplicates": 4,
            "suppressed": 0,
            "results": expected_results,
            "stats": stored_stats(db, campaign_id),
        }
        assert body["imported"] + body["duplicates"] == len(numbers)
        assert_stats_match_roster(db, campaign_id, body["stats"])
        assert {key: body["stats"][key] for key in ("total", "pending", "contacted")} == {
            "total": 10,
            "pending": 6,
            "contacted": 3,
        }
        assert [list(item) for item in body["results"]] == [
            ["index", "outcome", "id", "identity", "duplicate_of"]
        ] * len(numbers)
        assert list(body) == ["imported", "duplicates", "suppressed", "results", "stats"]

    def test_stats_of_other_campaigns_are_untouched(self, api, db, email_campaign):
        other = api.create_campaign("Other", "email")
        add_ok(api, other["id"], [{"email": "x@example.com"}])
        other_before = stored_stats(db, other["id"])

        add_ok(api, email_campaign["id"], [{"email": "y@example.com"}])

        assert stored_stats(db, other["id"]) == other_before


class TestStoredFields:
    @pytest.mark.parametrize(
        ("row", "stored_name", "listed_name"),
        [
            ({"first_name": "Ann", "last_name": "Lee"}, None, "Ann Lee"),
            ({"first_name": " Ann ", "last_name": "  Lee "}, None, "Ann Lee"),
            ({"first_name": "Ann"}, None, "Ann"),
            ({"last_name": "Lee"}, None, "Lee"),
            ({"first_name": "Ann", "last_name": "   "}, None, "Ann"),
            ({"first_name": "Ann", "last_name": "Lee", "name": "  "}, None, "Ann Lee"),
            ({"first_name": "Ann", "last_name": "Lee", "name": None}, None, "Ann Lee"),
            (
                {"first_name": "Ann", "last_name": "Lee", "name": " Dr. A. Lee "},
                "Dr. A. Lee",
                "Dr. A. Lee",
            ),
            ({"name": "Prince"}, "Prince", "Prince"),
            ({}, None, None),
            ({"first_name": "", "last_name": None}, None, None),
        ],
    )
    def test_name_is_derived_from_first_and_last_name_when_not_given(
        self, api, db, email_campaign, row, stored_name, listed_name
    ):
        add_ok(api, email_campaign["id"], [{"email": "ann@example.com", **row}])

        [lead] = stored_leads(db, email_campaign["id"])
        assert lead["name"] == stored_name
        [listed] = api.get(leads_url(email_campaign["id"])).json["prospects"]
        assert listed["name"] == listed_name

    def test_every_field_is_stored_trimmed(self, api, db, email_campaign):
        body = add_ok(
            api,
            email_campaign["id"],
            [
                {
                    "email": " Ann@Example.com ",
                    "linkedin_url": " https://www.linkedin.com/in/ann/ ",
                    "first_name": "\tAnn ",
                    "last_name": " Lee\n",
                    "name": " Ann Lee ",
                    "company": "  Acme  ",
                    "position": " CTO ",
                    "headline": " Builds things ",
                    "custom_fields": {"tier": " gold ", "seats": 12, "tags": ["a", {"b": None}]},
                },
                {"email": "bob@example.com", "first_name": "", "company": "   ", "headline": None},
            ],
        )

        ann, bob = stored_leads(db, email_campaign["id"])
        assert body["results"] == [
            result(0, "imported", ann["id"], "ann@example.com", None),
            result(1, "imported", bob["id"], "bob@example.com", None),
        ]
        stored_fields = ("status", *PROFILE_FIELDS)
        assert {field: ann[field] for field in stored_fields} == {
            "status": "pending",
            "email": "ann@example.com",
            "linkedin_url": "https://www.linkedin.com/in/ann",
            **ANN_PROFILE,
            "custom_fields": {"tier": " gold ", "seats": 12, "tags": ["a", {"b": None}]},
        }
        assert {field: bob[field] for field in stored_fields} == {
            "status": "pending",
            "email": "bob@example.com",
            "linkedin_url": None,
            "first_name": None,
            "last_name": None,
            "name": None,
            "company": None,
            "position": None,
            "headline": None,
            "custom_fields": {},
        }


# Fields with a plain length limit (characters, after trimming).
TEXT_LIMITS = [
    ("first_name", 200),
    ("last_name", 200),
    ("name", 200),
    ("company", 300),
    ("position", 300),
    ("headline", 2000),
]


def email_of_length(length: int, n: int = 0) -> str:
    """A syntactically valid address of exactly `length` characters (up to 254)."""
    local = f"u{n:03d}" + "a" * 60  # 64 characters, the most a local part may have
    remaining = length - len(local) - len("@") - len(".com")
    labels = []
    while remaining > 0:
        label_length = 63 if remaining > 64 else remaining  # DNS labels hold 63 at most
        labels.append("b" * label_length)
        remaining -= label_length + 1
    domain = ".".join(labels) + ".com"
    address = f"{local}@{domain}"
    assert len(address) == length, (len(address), length)
    return address


def linkedin_url_of_length(length: int, n: int = 0) -> str:
    """A profile URL of exactly `length` characters: the query string (dropped) fills it."""
    base = f"https://www.linkedin.com/in/lead-{n}?q="
    return base + "x" * (length - len(base))


class TestFieldLimits:
    @pytest.mark.parametrize(("field", "limit"), TEXT_LIMITS)
    def test_the_maximum_length_is_accepted_after_trimming(
        self, api, db, email_campaign, field, limit
    ):
        value = "é" * (limit - 1) + "x"
        body = add_ok(
            api, email_campaign["id"], [{"email": "ann@example.com", field: f"  {value}\t\n"}]
        )

        [lead] = stored_leads(db, email_campaign["id"])
        assert lead[field] == value
        assert body["imported"] == 1

    @pytest.mark.parametrize(("field", "limit"), TEXT_LIMITS)
    @pytest.mark.parametrize("excess", [1, 1_000_000])
    def test_a_longer_value_is_rejected(
        self, rejected_rows, api, email_campaign, field, limit, excess
    ):
        add_ok(api, email_campaign["id"], [{"email": "existing@example.com"}])
        rejected_rows(
            email_campaign,
            [
                {"email": "ann@example.com", field: "x" * limit},
                {"email": "bob@example.com", field: " " + "x" * (limit + excess) + " "},
            ],
            row_error(1, field, f"Longer than maximum length {limit}."),
        )

    @pytest.mark.parametrize(("field", "limit"), TEXT_LIMITS)
    @pytest.mark.parametrize("value", ["", "   ", "\t\n", None])
    def test_blank_counts_as_absent(self, api, db, email_campaign, field, limit, value):
        add_ok(api, email_campaign["id"], [{"email": "ann@example.com", field: value}])

        [lead] = stored_leads(db, email_campaign["id"])
        assert lead[field] is None

    @pytest.mark.parametrize("field", TEXT_FIELDS)
    @pytest.mark.parametrize(
        "value", [1, 42, 1.5, True, [], {}, ["x"], ["Ann"], {"x": 1}], ids=repr
    )
    def test_non_strings_are_rejected(self, rejected_rows, email_campaign, field, value):
        rejected_rows(
            email_campaign,
            [{"email": "ann@example.com", field: value}],
            row_error(0, field, "Not a valid string."),
        )

    def test_email_of_254_characters_is_accepted(self, api, db, email_campaign):
        address = email_of_length(254)

        body = add_ok(api, email_campaign["id"], [{"email": f" {address.upper()} "}])

        [lead] = stored_leads(db, email_campaign["id"])
        assert lead["email"] == lead["identity"] == address
        assert body["results"] == [result(0, "imported", lead["id"], address, None)]

    def test_linkedin_url_of_512_characters_is_accepted(self, api, db, linkedin_campaign):
        body = add_ok(
            api, linkedin_campaign["id"], [{"linkedin_url": f"  {linkedin_url_of_length(512)} "}]
        )

        [lead] = stored_leads(db, linkedin_campaign["id"])
        assert lead["linkedin_url"] == "https://www.linkedin.com/in/lead-0"
        assert body["results"] == [result(0, "imported", lead["id"], lead["identity"], None)]

    @pytest.mark.parametrize(
        ("campaign_type", "over_limit", "message"),
        [
            ("email", email_of_length(255), "email is longer than 254 characters"),
            ("linkedin", linkedin_url_of_length(513), "linkedin_url is longer than 512 characters"),
        ],
    )
    def test_the_identity_over_its_limit_is_rejected(
        self, rejected_rows, api, campaign_type, over_limit, message
    ):
        field = IDENTITY_FIELD[campaign_type]
        rejected_rows(
            api.create_campaign("Limits", campaign_type),
            [{field: over_limit}],
            bad_request(f"prospects[0]: {message}", row_errors({0: {field: [message]}})),
        )

    @pytest.mark.parametrize(
        ("campaign_type", "field", "at_limit", "over_limit", "stored_at_limit"),
        [
            (
                "linkedin",
                "email",
                email_of_length(254),
                email_of_length(255),
                email_of_length(254),
            ),
            (
                "email",
                "linkedin_url",
                linkedin_url_of_length(512),
                linkedin_url_of_length(513),
                "https://www.linkedin.com/in/lead-0",
            ),
        ],
    )
    def test_the_other_identity_over_its_limit_is_dropped(
        self, api, db, campaign_type, field, at_limit, over_limit, stored_at_limit
    ):
        campaign = api.create_campaign("Limits", campaign_type)

        add_ok(
            api,
            campaign["id"],
            [
                {**identity_row(campaign_type, 1), field: at_limit},
                {**identity_row(campaign_type, 2), field: over_limit},
            ],
        )

        one, two = stored_leads(db, campaign["id"])
        assert (one[field], two[field]) == (stored_at_limit, None)


class TestCustomFields:
    @pytest.mark.parametrize(
        "custom_fields",
        [
            {},
            {"a": 1},
            {"A_z_0_9": "x"},
            {"k" * 64: "longest key"},
            {f"key_{n}": n for n in range(100)},
            custom_fields_of_size(16 * 1024),
            custom_fields_of_size(16 * 1024, "é"),
            custom_fields_of_size(16 * 1024, ASTRAL),
            {"deep": [[[1]]], "obj": {"a": {"b": {"c": "d"}}}},
            {"mixed": [1, 2.5, -3, True, False, None, "s", {"n": None}], "e": []},
        ],
    )
    def test_valid_custom_fields_are_stored_as_given(self, api, db, email_campaign, custom_fields):
        add_ok(
            api, email_campaign["id"], [{"email": "a@example.com", "custom_fields": custom_fields}]
        )

        [lead] = stored_leads(db, email_campaign["id"])
        assert lead["custom_fields"] == custom_fields

    @pytest.mark.parametrize("row", [{}, {"custom_fields": None}])
    def test_absent_or_null_custom_fields_are_an_empty_object(self, api, db, email_campaign, row):
        add_ok(api, email_campaign["id"], [{"email": "a@example.com", **row}])

        [lead] = stored_leads(db, email_campaign["id"])
        assert lead["custom_fields"] == {}
        [listed] = api.get(leads_url(email_campaign["id"])).json["prospects"]
        assert listed["custom_fields"] == {}

    @pytest.mark.parametrize(
        ("custom_fields", "messages"),
        [
            ([1, 2], ["Not a valid mapping."]),
            ("tier=gold", ["Not a valid mapping."]),
            (7, ["Not a valid mapping."]),
            (True, ["Not a valid mapping."]),
            ({"": 1}, ["Key '' must match ^[A-Za-z0-9_]{1,64}$."]),
            ({"k" * 65: 1}, [f"Key '{'k' * 65}' must match ^[A-Za-z0-9_]{{1,64}}$."]),
            (
                {"ok": 1, "deal-size": 2, "first name": 3},
                [
                    "Key 'deal-size' must match ^[A-Za-z0-9_]{1,64}$.",
                    "Key 'first name' must match ^[A-Za-z0-9_]{1,64}$.",
                ],
            ),
            ({"größe": 1}, ["Key 'größe' must match ^[A-Za-z0-9_]{1,64}$."]),
            ({"a.b": 1}, ["Key 'a.b' must match ^[A-Za-z0-9_]{1,64}$."]),
            # `$` alone would match before a final newline: the whole key must match.
            ({"tier\n": 1}, ["Key 'tier\\n' must match ^[A-Za-z0-9_]{1,64}$."]),
            ({f"key_{n}": n for n in range(101)}, ["Must hold at most 100 keys."]),
            (
                {"k": "x" * (16 * 1024 - 7)},
                ["Must be at most 16384 bytes serialized, got 16385."],
            ),
            (
                {"k": "é" * (16 * 1024 // 2)},
                ["Must be at most 16384 bytes serialized, got 16392."],
            ),
            ({"deep": [[[[1]]]]}, ["Value of 'deep' is nested deeper than 4."]),
            ({"deep": {"a": {"b": {"c": {"d": 1}}}}}, ["Value of 'deep' is nested deeper than 4."]),
            ({"nul": "a\u0000b"}, ["Value of 'nul': Must not contain NUL characters."]),
        ],
    )
    def test_invalid_custom_fields_are_rejected(
        self, rejected_rows, api, email_campaign, custom_fields, messages
    ):
        add_ok(api, email_campaign["id"], [{"email": "existing@example.com"}])
        rejected_rows(
            email_campaign,
            [
                {"email": "a@example.com"},
                {"email": "b@example.com", "custom_fields": custom_fields},
            ],
            bad_request(
                "; ".join(f"prospects[1].custom_fields: {m.rstrip('.')}" for m in messages),
                row_errors({1: {"custom_fields": messages}}),
            ),
        )


class TestUnknownKeys:
    @pytest.mark.parametrize(
        "extra",
        [
            {"phone": "+1 555"},
            {"status": "sent"},
            {"id": MISSING_UUID},
            {"campaign_id": MISSING_UUID},
            {"created_at": "2024-01-01T00:00:00Z"},
            {"Email": "x@example.com"},
        ],
    )
    def test_an_unknown_key_names_index_and_key(self, rejected_rows, api, email_campaign, extra):
        add_ok(api, email_campaign["id"], [{"email": "existing@example.com"}])
        [key] = extra

        rejected_rows(
            email_campaign,
            [
                {"email": "a@example.com"},
                {"email": "b@example.com"},
                {"email": "c@x.com", **extra},
            ],
            row_error(2, key, "Unknown field."),
        )

    def test_several_unknown_keys_are_all_named(self, rejected_rows, email_campaign):
        rejected_rows(
            email_campaign,
            [
                {"email": "a@x.com", "phone": "1"},
                {"email": "b@x.com"},
                {"email": "c@x.com", "tag": 2},
            ],
            bad_request(
                "prospects[0].phone, prospects[2].tag: Unknown field",
                row_errors({0: {"phone": ["Unknown field."]}, 2: {"tag": ["Unknown field."]}}),
            ),
        )


class TestManyBadRows:
    @pytest.mark.parametrize(
        ("size", "bad_rows", "named"),
        [
            pytest.param(
                20,
                {
                    3: {"first_name": "No email"},
                    17: {"linkedin_url": "https://www.linkedin.com/in/only-linkedin"},
                },
                "prospects[3], prospects[17]",
                id="two-of-twenty",
            ),
            pytest.param(
                1000,
                {0: {"email": "   "}, 999: {"first_name": "Last"}},
                "prospects[0], prospects[999]",
                id="first-and-last-of-a-full-batch",
            ),
        ],
    )
    def test_one_400_names_every_offending_index_and_writes_nothing(
        self, api, db, email_campaign, size, bad_rows, named
    ):
        add_ok(api, email_campaign["id"], [{"email": "existing@example.com"}])
        before = database_state(db)
        rows = [{"email": f"lead{n}@example.com"} for n in range(size)]
        for index, row in bad_rows.items():
            rows[index] = row

        response = add(api, email_campaign["id"], rows)

        required = "email is required for email campaigns"
        assert response.status_code == 400
        assert response.json == bad_request(
            f"{named}: {required}",
            row_errors({index: {"email": [required]} for index in bad_rows}),
        )
        assert database_state(db) == before

    def test_different_problems_are_all_named(self, rejected_rows, api, linkedin_campaign):
        add_ok(api, linkedin_campaign["id"], [identity_row("linkedin", 99)])
        rows = [identity_row("linkedin", n) for n in range(8)]
        rows[1] = {"email": "ann@example.com"}
        rows[2] = {"linkedin_url": "https://www.linkedin.com/company/acme"}
        rows[4] = {**identity_row("linkedin", 4), "company": "x" * 301, "custom_fields": []}
        rows[6] = {"linkedin_url": ""}

        rejected_rows(
            linkedin_campaign,
            rows,
            bad_request(
                "prospects[1], prospects[6]: linkedin_url is required for linkedin campaigns; "
                "prospects[2]: linkedin_url is not a profile URL (expected /in/<profile>); "
                "prospects[4].company: Longer than maximum length 300; "
                "prospects[4].custom_fields: Not a valid mapping",
                row_errors(
                    {
                        1: {"linkedin_url": ["linkedin_url is required for linkedin campaigns"]},
                        2: {
                            "linkedin_url": [
                                "linkedin_url is not a profile URL (expected /in/<profile>)"
                            ]
                        },
                        4: {
                            "company": ["Longer than maximum length 300."],
                            "custom_fields": ["Not a valid mapping."],
                        },
                        6: {"linkedin_url": ["linkedin_url is required for linkedin campaigns"]},
                    }
                ),
            ),
        )


def without_new_ids(body: dict) -> dict:
    """The response with the ids of leads the request itself created (and its
    last_synced_at) blanked: those differ between a dry run and the real request."""
    new_ids = {item["id"] for item in body["results"] if item["outcome"] == "imported"}
    return {
        **body,
        "results": [
            {**item, "id": "<new>" if item["id"] in new_ids else item["id"]}
            for item in body["results"]
        ],
        "stats": {**body["stats"], "last_synced_at": "<now>"},
    }


class TestDryRun:
    @pytest.mark.parametrize("campaign", ["email", "linkedin"], indirect=True)
    @pytest.mark.parametrize("flag", ["true", "True", "1"])
    def test_reports_what_a_real_post_would_and_writes_nothing(self, api, db, campaign, flag):
        kind = campaign["type"]
        add_ok(api, campaign["id"], [identity_row(kind, n) for n in (1, 2)])
        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE leads SET status = 'connected' WHERE identity = %s",
                (identity_of(kind, 2),),
            )
        existing = ids_by_identity(db, campaign["id"])
        rows = [identity_row(kind, n) for n in (3, 1, 4, 3, 2, 5)]
        before = database_state(db)

        dry = add_ok(api, campaign["id"], rows, f"?dry_run={flag}")

        assert database_state(db) == before
        new_ids = [dry["results"][i]["id"] for i in (0, 2, 5)]
        assert len(set(new_ids)) == 3
        assert dry == {
            "imported": 3,
            "duplicates": 3,
            "suppressed": 0,
            "results": [
                result(0, "imported", new_ids[0], identity_of(kind, 3), None),
                result(
                    1, "duplicate", existing[identity_of(kind, 1)], identity_of(kind, 1), "campaign"
                ),
                result(2, "imported", new_ids[1], identity_of(kind, 4), None),
                result(3, "duplicate", new_ids[0], identity_of(kind, 3), "batch"),
                result(
                    4, "duplicate", existing[identity_of(kind, 2)], identity_of(kind, 2), "campaign"
                ),
                result(5, "imported", new_ids[2], identity_of(kind, 5), None),
            ],
            "stats": {
                **stored_stats(db, campaign["id"]),
                "total": 5,
                "pending": 4,
                "connected": 1,
                "contacted": 1,
                "last_synced_at": dry["stats"]["last_synced_at"],
            },
            "dry_run": True,
        }

        real = add_ok(api, campaign["id"], rows)

        assert "dry_run" not in real
        assert without_new_ids(dry) == {**without_new_ids(real), "dry_run": True}
        assert_stats_match_roster(db, campaign["id"], real["stats"])

    def test_a_dry_run_of_an_invalid_batch_is_the_same_400(self, api, db, email_campaign):
        before = database_state(db)
        rows = [{"email": "ann@example.com"}, {"email": "bad"}, {"first_name": "Bob"}]

        dry = add(api, email_campaign["id"], rows, "?dry_run=true")
        real = add(api, email_campaign["id"], rows)

        assert dry.status_code == real.status_code == 400
        assert (
            dry.json
            == real.json
            == bad_request(
                "prospects[1]: email is not a valid email address "
                "(An email address must have an @-sign.); "
                "prospects[2]: email is required for email campaigns",
                row_errors(
                    {
                        1: {
                            "email": [
                                "email is not a valid email address "
                                "(An email address must have an @-sign.)"
                            ]
                        },
                        2: {"email": ["email is required for email campaigns"]},
                    }
                ),
            )
        )
        assert database_state(db) == before

    @pytest.mark.parametrize("flag", ["false", "0", "False"])
    def test_dry_run_false_writes(self, api, db, email_campaign, flag):
        body = add_ok(api, email_campaign["id"], [{"email": "ann@example.com"}], f"?dry_run={flag}")

        [lead] = stored_leads(db, email_campaign["id"])
        assert body == {
            "imported": 1,
            "duplicates": 0,
            "suppressed": 0,
            "results": [result(0, "imported", lead["id"], "ann@example.com", None)],
            "stats": stored_stats(db, email_campaign["id"]),
        }

    @pytest.mark.parametrize(
        ("query", "error"),
        [
            (
                "?dry_run=maybe",
                bad_query("dry_run", "Not a valid boolean."),
            ),
            (
                "?dry_run=",
                bad_query("dry_run", "Not a valid boolean."),
            ),
            ("?dryrun=true", bad_query("dryrun", "Unknown field.")),
            ("?dry_run=true&dry_run=false", bad_query("dry_run", "Give this parameter once.")),
        ],
    )
    def test_bad_query_is_rejected(self, rejected_rows, email_campaign, query, error):
        rejected_rows(email_campaign, [{"email": "ann@example.com"}], error, query)


class TestFrozenRoster:
    @pytest.mark.parametrize("status", ["active", "paused", "completed"])
    @pytest.mark.parametrize("query", ["", "?dry_run=true"])
    def test_a_campaign_out_of_draft_refuses_new_leads(
        self, rejected_rows, api, email_campaign, status, query
    ):
        add_ok(api, email_campaign["id"], [{"email": "existing@example.com"}])
        move_to(api, email_campaign, status)
        rejected_rows(
            email_campaign,
            [{"email": "new@example.com"}],
            bad_request(frozen_roster(status)),
            query,
        )


class TestNotFound:
    @pytest.mark.parametrize("which", MISSING_CAMPAIGNS)
    @pytest.mark.parametrize(
        "prospects", [[{"email": "ann@example.com"}], [{"first_name": "no identity"}], []]
    )
    @pytest.mark.parametrize("query", ["", "?dry_run=true"])
    def test_every_missing_campaign_is_the_same_404(
        self, rejected, other_api, email_campaign, which, prospects, query
    ):
        other = other_api.create_campaign("Theirs", "email")
        add_ok(other_api, other["id"], [{"email": "theirs@example.com"}])
        campaign_id = missing_campaign_id(which, email_campaign, other)
        rejected(
            "POST", leads_url(campaign_id) + query, 404, NOT_FOUND, json={"prospects": prospects}
        )


class TestTransport:
    @pytest.mark.parametrize(
        ("data", "content_type"),
        [
            ('{"prospects": [{"email": "ann@example.com"}]}', "text/plain"),
            ("prospects=ann@example.com", "application/x-www-form-urlencoded"),
            ('{"prospects": [{"email": "ann@example.com"}]}', "application/xml"),
            ('{"prospects": [{"email": "ann@example.com"}]}', None),
        ],
    )
    def test_a_body_that_is_not_json_is_415(self, api, db, email_campaign, data, content_type):
        before = database_state(db)

        response = api.post(leads_url(email_campaign["id"]), data=data, content_type=content_type)

        assert response.status_code == 415
        assert response.json == {
            "code": 415,
            "status": "Unsupported Media Type",
            "message": "Request bodies must be JSON (Content-Type: application/json).",
        }
        assert database_state(db) == before

    @pytest.mark.parametrize(
        ("authorization", "message"),
        [
            (None, "Authentication required: send Authorization: Bearer <token>."),
            ("", "Authentication required: send Authorization: Bearer <token>."),
            ("Bearer ld_" + "x" * 43, "The token is unknown or revoked."),
            (
                "Basic dXNlcjpwYXNz",
                "The Authorization header is malformed: expected Bearer <token>.",
            ),
            ("Bearer", "The Authorization header is malformed: expected Bearer <token>."),
        ],
    )
    def test_a_request_without_a_valid_token_is_401(
        self, app, db, token, email_campaign, authorization, message
    ):
        before = database_state(db)
        headers = {} if authorization is None else {"Authorization": authorization}

        response = app.test_client().post(
            leads_url(email_campaign["id"]),
            json={"prospects": [{"email": "ann@example.com"}]},
            headers=headers,
        )

        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json == {"code": 401, "status": "Unauthorized", "message": message}
        assert database_state(db) == before

    def test_invalid_json_is_400(self, rejected, email_campaign):
        rejected(
            "POST",
            leads_url(email_campaign["id"]),
            400,
            bad_request(
                "Invalid JSON body: Expecting ',' delimiter at line 1 column 42",
                {"json": ["Invalid JSON body: Expecting ',' delimiter at line 1 column 42."]},
            ),
            data='{"prospects": [{"email": "a@example.com"}',
            content_type="application/json",
        )


def largest_lead(n: int) -> dict:
    """A lead with every field at its maximum size, in the characters that take the most
    bytes on the wire once a JSON encoder escapes them (12 bytes for an astral character,
    6 for é; the email limit is in UTF-8 octets, so é's fill it best)."""
    url_base = f"https://www.linkedin.com/in/lead-{n:04d}?q="
    return {
        "email": "é" * 122 + f"{n:04d}@a.co",
        "linkedin_url": url_base + ASTRAL * (512 - len(url_base)),
        "first_name": ASTRAL * 200,
        "last_name": ASTRAL * 200,
        "name": ASTRAL * 200,
        "company": ASTRAL * 300,
        "position": ASTRAL * 300,
        "headline": ASTRAL * 2000,
        "custom_fields": custom_fields_of_size(16 * 1024, "é"),
    }


@pytest.fixture
def small_body_app(database_url):
    app = create_app({"database_url": database_url, "max_body_bytes": 2000, "rate_limit": None})
    app.config["TESTING"] = True
    yield app
    app.extensions["leads_pool"].close()


class TestBodyLimit:
    def test_the_default_limit_admits_a_full_batch_at_maximum_size(
        self, app, api, db, email_campaign
    ):
        assert app.config["MAX_CONTENT_LENGTH"] == DEFAULT_MAX_BODY_BYTES
        rows = [largest_lead(n) for n in range(1000)]
        body = json.dumps({"prospects": rows})  # ASCII: every non-ASCII character escaped
        assert len(body) > 90_000_000

        response = api.post(
            leads_url(email_campaign["id"]), data=body, content_type="application/json"
        )

        assert response.status_code == 200, response.json
        assert (response.json["imported"], response.json["duplicates"]) == (1000, 0)
        stored = stored_leads(db, email_campaign["id"])
        assert len(stored) == 1000
        for lead, row in zip(stored, rows, strict=True):
            assert lead["email"] == row["email"]
            assert lead["linkedin_url"] == row["linkedin_url"].split("?")[0]
            for field in ("first_name", "last_name", "name", "company", "position", "headline"):
                assert lead[field] == row[field]
            assert lead["custom_fields"] == row["custom_fields"]
        assert_stats_match_roster(db, email_campaign["id"], response.json["stats"])

    @pytest.mark.parametrize("extra_bytes", [0, 1])
    def test_a_body_over_the_configured_limit_is_413(
        self, small_body_app, token, db, email_campaign, extra_bytes
    ):
        api = ApiClient(small_body_app, token)
        head = '{"prospects": [{"email": "ann@example.com", "first_name": "Ann'
        tail = '"}]}'
        body = head + " " * (2000 - len(head) - len(tail) + extra_bytes) + tail
        assert len(body.encode()) == 2000 + extra_bytes
        before = database_state(db)

        response = api.post(
            leads_url(email_campaign["id"]), data=body, content_type="application/json"
        )

        if extra_bytes == 0:
            assert response.status_code == 200, response.json
            [lead] = stored_leads(db, email_campaign["id"])
            assert (lead["email"], lead["first_name"]) == ("ann@example.com", "Ann")
        else:
            assert response.status_code == 413
            assert response.json == {
                "code": 413,
                "status": "Request Entity Too Large",
                "message": "The request body is larger than this service's limit of "
                "2,000 bytes; split it into smaller requests.",
            }
            assert database_state(db) == before
