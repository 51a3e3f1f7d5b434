"""/api/suppressions: the workspace's do-not-contact list. Adds (normalization, dedup within
the request and against the list, remove_from_drafts), every bad input refused with nothing
written, the list (filters, cursor paging), removal by id, the read-only check, and the
isolation of workspaces."""

from __future__ import annotations

import threading
import uuid

import pytest

from tests.contract import (
    LIMIT_RANGE,
    MISSING_UUID,
    SUPPRESSIONS,
    SUPPRESSIONS_CHECK,
    THREAD_TIMEOUT,
    ApiClient,
    add_leads,
    assert_stats_match_roster,
    bad_body,
    bad_query,
    bad_request,
    database_state,
    entry_as_listed,
    leads_url,
    move_to,
    open_transaction,
    row_error,
    stored_leads,
    stored_stats,
    stored_suppressions,
    suppress,
    wait_for_lock_waiters,
)

KINDS = "Must be one of: email, domain, linkedin_url."
REASONS = "Must be one of: unsubscribed, bounced, complained, manual."
OTHER_FILTERS = "This cursor was issued for other filters; list with the same kind and q."
BAD_CURSOR = "Not a valid cursor: pass the next_cursor of a previous page unchanged."
NO_PERIOD = "domain is not a valid domain name (The domain is not valid. It should have a period.)"
NOT_AN_EMAIL = "email is not a valid email address (An email address must have an @-sign.)"
ONE_IDENTITY = "Send exactly one of email and linkedin_url."
ANN = {"kind": "email", "value": "ann@example.com"}
ACME = {"kind": "domain", "value": "acme.com"}
BOB = {"kind": "linkedin_url", "value": "https://www.linkedin.com/in/bob"}


def entries_of(db, workspace: str = "acme") -> list[dict]:
    """The workspace's entries as stored, in list order, without the workspace."""
    return [
        {key: value for key, value in row.items() if key != "workspace"}
        for row in stored_suppressions(db)
        if row["workspace"] == workspace
    ]


def id_of(db, kind: str, value: str, workspace: str = "acme") -> str:
    rows = entries_of(db, workspace)
    (entry_id,) = [row["id"] for row in rows if (row["kind"], row["value"]) == (kind, value)]
    return entry_id


def outside_the_list(state: dict) -> dict:
    """A database_state without the suppression list and the change feed (which records the
    add, tests/test_events.py): the rosters, campaigns and the rest."""
    written = {"suppressions", "events", "event_positions"}
    return {table: rows for table, rows in state.items() if table not in written}


def added(index: int, entry_id: str, value: str, outcome: str = "added") -> dict:
    return {"index": index, "outcome": outcome, "id": entry_id, "value": value}


def all_added(db, entries: list[dict]) -> dict:
    """The answer to a POST of `entries` into an empty list: each one added, in order, with
    the id the database holds."""
    ids = [row["id"] for row in entries_of(db)]
    results = [added(index, ids[index], entry["value"]) for index, entry in enumerate(entries)]
    return {"added": len(entries), "duplicates": 0, "results": results}


def entry_errors(message: str, by_index: dict) -> dict:
    """The 400 of a POST whose entries have these errors ({index: {field: [messages]}})."""
    errors = {str(index): fields for index, fields in by_index.items()}
    return bad_request(message, {"json": {"entries": errors}})


def identity_error(index: int, key: str, message: str) -> dict:
    """The 400 of a check whose identity `index` has this error under `key`: the message
    names the identity alone (the error of the whole object, or one naming its field)."""
    return bad_request(
        f"identities[{index}]: {message.rstrip('.')}",
        {"json": {"identities": {str(index): {key: [message]}}}},
    )


def listing(api, **query) -> dict:
    path = SUPPRESSIONS + "?" + "&".join(f"{key}={value}" for key, value in query.items())
    response = api.get(path)
    assert response.status_code == 200, response.json
    return response.json


def check(api, identities: list[dict]) -> list[dict]:
    response = api.post(SUPPRESSIONS_CHECK, json={"identities": identities})
    assert response.status_code == 200, response.json
    return response.json["results"]


def stored_emails(db, campaign: dict) -> list[str]:
    return [lead["email"] for lead in stored_leads(db, campaign["id"], ["email"])]


class TestAdd:
    @pytest.mark.parametrize(
        ("kind", "given", "value"),
        [
            ("email", " Ann@Example.COM ", "ann@example.com"),
            # Leads hold an internationalized domain in its Unicode form; so do email entries.
            ("email", "ann@Bücher.DE", "ann@bücher.de"),
            ("domain", "Acme.COM", "acme.com"),
            ("domain", " @acme.com\t", "acme.com"),
            ("domain", "@EU.Acme.com", "eu.acme.com"),
            ("domain", "bücher.de", "xn--bcher-kva.de"),
            ("domain", "@Bücher.DE", "xn--bcher-kva.de"),
            ("domain", "xn--bcher-kva.de", "xn--bcher-kva.de"),
            ("linkedin_url", "linkedin.com/in/Ann/", "https://www.linkedin.com/in/ann"),
            (
                "linkedin_url",
                " https://uk.linkedin.com/in/ann?trk=x#top ",
                "https://www.linkedin.com/in/ann",
            ),
        ],
    )
    def test_each_kind_is_normalized_and_stored(self, api, db, kind, given, value):
        body = suppress(api, [{"kind": kind, "value": given}])

        [entry] = entries_of(db)
        assert body == {"added": 1, "duplicates": 0, "results": [added(0, entry["id"], value)]}
        assert entry == {
            "id": entry["id"],
            "kind": kind,
            "value": value,
            "reason": "manual",
            "note": None,
            "created_at": entry["created_at"],
        }

    def test_reason_defaults_to_manual_and_takes_each_value_and_a_note(self, api, db):
        reasons = ["unsubscribed", "bounced", "complained", "manual"]
        notes = ["  asked by phone ", None, "", "n" * 500]
        entries = [{"kind": "email", "value": "default@example.com"}] + [
            {"kind": "email", "value": f"{reason}@example.com", "reason": reason, "note": note}
            for reason, note in zip(reasons, notes, strict=True)
        ]
        body = suppress(api, entries)

        stored = entries_of(db)
        assert body == {
            "added": 5,
            "duplicates": 0,
            "results": [added(n, row["id"], row["value"]) for n, row in enumerate(stored)],
        }
        assert [(row["value"], row["reason"], row["note"]) for row in stored] == [
            ("default@example.com", "manual", None),
            ("unsubscribed@example.com", "unsubscribed", "asked by phone"),  # trimmed
            ("bounced@example.com", "bounced", None),
            ("complained@example.com", "complained", None),  # blank is no note
            ("manual@example.com", "manual", "n" * 500),
        ]

    def test_duplicates_within_the_request_and_against_the_list(self, api, db):
        suppress(api, [ANN, {**ACME, "reason": "bounced", "note": "first"}])
        before = entries_of(db)
        ann, acme = before[0]["id"], before[1]["id"]

        body = suppress(
            api,
            [
                {"kind": "email", "value": " ANN@example.com"},
                {"kind": "domain", "value": "@acme.com", "reason": "complained", "note": "2nd"},
                BOB,
                {"kind": "linkedin_url", "value": "linkedin.com/in/BOB"},
                # The same text under another kind is another entry.
                {"kind": "domain", "value": "example.com"},
                {"kind": "email", "value": "acme@example.com"},
                {"kind": "domain", "value": "Example.com"},
            ],
        )

        after = entries_of(db)
        assert after[:2] == before  # the list's entries are kept as they were
        bob, example, acme_email = (row["id"] for row in after[2:])
        assert [row["value"] for row in after[2:]] == [
            BOB["value"],
            "example.com",
            "acme@example.com",
        ]
        assert body == {
            "added": 3,
            "duplicates": 4,
            "results": [
                added(0, ann, "ann@example.com", "duplicate"),
                added(1, acme, "acme.com", "duplicate"),
                added(2, bob, BOB["value"]),
                added(3, bob, BOB["value"], "duplicate"),
                added(4, example, "example.com"),
                added(5, acme_email, "acme@example.com"),
                added(6, example, "example.com", "duplicate"),
            ],
        }

    def test_a_thousand_entries_are_added(self, api, db):
        entries = [{"kind": "email", "value": f"p{n}@example.com"} for n in range(1000)]
        body = suppress(api, entries)

        stored = entries_of(db)
        # One transaction: one created_at; the list orders them by id, in the request's order.
        assert [row["value"] for row in stored] == [entry["value"] for entry in entries]
        assert body == {
            "added": 1000,
            "duplicates": 0,
            "results": [added(n, row["id"], row["value"]) for n, row in enumerate(stored)],
        }


@pytest.fixture
def rosters(api, other_api) -> dict:
    """acme's campaigns in every status and globex's draft, all holding people the entries
    ANN, ACME and BOB match (and some they do not)."""
    drafts_email = api.create_campaign("Draft email", "email")
    add_leads(
        api,
        drafts_email,
        [
            {"email": "ann@example.com"},  # the email entry
            {"email": "x@acme.com"},  # the domain
            {"email": "y@eu.acme.com"},  # a subdomain of it
            {"email": "z@notacme.com"},  # a look-alike: stays
            {"email": "keep@example.com", "linkedin_url": "linkedin.com/in/bob"},  # captured
            {"email": "carl@example.com"},
        ],
    )
    drafts_linkedin = api.create_campaign("Draft LinkedIn", "linkedin")
    add_leads(
        api,
        drafts_linkedin,
        [
            {"linkedin_url": "linkedin.com/in/bob"},
            {"linkedin_url": "linkedin.com/in/dan", "email": "dan@acme.com"},  # captured
            {"linkedin_url": "linkedin.com/in/eve", "email": "eve@example.com"},
        ],
    )
    untouched_draft = api.create_campaign("Draft elsewhere", "email")
    add_leads(api, untouched_draft, [{"email": "fay@example.com"}])
    frozen = {}
    for status in ("active", "paused", "completed"):
        campaign = api.create_campaign(f"Frozen {status}", "email")
        add_leads(api, campaign, [{"email": "ann@example.com"}, {"email": "x@acme.com"}])
        frozen[status] = move_to(api, campaign, status)
    theirs = other_api.create_campaign("Theirs", "email")
    add_leads(other_api, theirs, [{"email": "ann@example.com"}, {"email": "x@acme.com"}])
    return {
        "email": drafts_email,
        "linkedin": drafts_linkedin,
        "untouched": untouched_draft,
        "frozen": list(frozen.values()),
        "theirs": theirs,
    }


class TestRemoveFromDrafts:
    def test_matching_leads_leave_every_draft_roster_and_only_those(self, api, db, rosters):
        others = [rosters["untouched"], *rosters["frozen"], rosters["theirs"]]
        before = {campaign["id"]: stored_leads(db, campaign["id"]) for campaign in others}
        stats_before = {campaign["id"]: stored_stats(db, campaign["id"]) for campaign in others}

        body = suppress(api, [ANN, ACME, BOB], remove_from_drafts=True)

        email_id, linkedin_id = rosters["email"]["id"], rosters["linkedin"]["id"]
        assert body == {
            **all_added(db, [ANN, ACME, BOB]),
            "removed_from_drafts": {
                "leads": 6,
                "campaigns": sorted(
                    [{"id": email_id, "removed": 4}, {"id": linkedin_id, "removed": 2}],
                    key=lambda campaign: campaign["id"],
                ),
            },
        }
        assert stored_emails(db, rosters["email"]) == ["z@notacme.com", "carl@example.com"]
        assert [lead["identity"] for lead in stored_leads(db, linkedin_id)] == [
            "https://www.linkedin.com/in/eve"
        ]
        for campaign_id in (email_id, linkedin_id):
            assert_stats_match_roster(db, campaign_id)
        assert stored_stats(db, email_id)["total"] == 2
        assert stored_stats(db, linkedin_id)["total"] == 1
        # Frozen rosters, drafts the entries do not match and other workspaces never change.
        assert {campaign["id"]: stored_leads(db, campaign["id"]) for campaign in others} == before
        assert {campaign["id"]: stored_stats(db, campaign["id"]) for campaign in others} == (
            stats_before
        )

    @pytest.mark.parametrize(
        "options", [{}, {"remove_from_drafts": False}], ids=["absent", "false"]
    )
    def test_without_it_no_roster_changes(self, api, db, rosters, options):
        before = database_state(db)
        body = suppress(api, [ANN, ACME, BOB], **options)

        assert body == all_added(db, [ANN, ACME, BOB])
        after = database_state(db)
        assert outside_the_list(after) == outside_the_list(before)

    def test_an_entry_the_list_holds_still_removes_what_it_matches(self, api, db, rosters):
        # The leads were added before the entry was; sending it again with
        # remove_from_drafts is how they are cleaned out.
        suppress(api, [ANN])
        ann = id_of(db, "email", "ann@example.com")

        body = suppress(api, [ANN], remove_from_drafts=True)

        assert body == {
            "added": 0,
            "duplicates": 1,
            "results": [added(0, ann, "ann@example.com", "duplicate")],
            "removed_from_drafts": {
                "leads": 1,
                "campaigns": [{"id": rosters["email"]["id"], "removed": 1}],
            },
        }
        assert "ann@example.com" not in stored_emails(db, rosters["email"])
        assert_stats_match_roster(db, rosters["email"]["id"])

    def test_nothing_matched_removes_nothing(self, api, db, rosters):
        before = database_state(db)
        body = suppress(api, [{"kind": "domain", "value": "initech.com"}], remove_from_drafts=True)

        entry = id_of(db, "domain", "initech.com")
        assert body == {
            "added": 1,
            "duplicates": 0,
            "results": [added(0, entry, "initech.com")],
            "removed_from_drafts": {"leads": 0, "campaigns": []},
        }
        after = database_state(db)
        # Only the entry is new: no roster, and no campaign's stats, changed.
        assert outside_the_list(after) == outside_the_list(before)

    def test_an_internationalized_domain_removes_its_unicode_emails(self, api, db):
        campaign = api.create_campaign("IDN", "email")
        add_leads(
            api,
            campaign,
            [
                {"email": "a@bücher.de"},
                {"email": "b@EU.Bücher.de"},
                {"email": "c@xn--bcher-kva.de"},  # stored in its Unicode form
                {"email": "d@notbücher.de"},
                {"email": "e@bucher.de"},
            ],
        )
        body = suppress(api, [{"kind": "domain", "value": "Bücher.de"}], remove_from_drafts=True)

        assert body["removed_from_drafts"] == {
            "leads": 3,
            "campaigns": [{"id": campaign["id"], "removed": 3}],
        }
        assert stored_emails(db, campaign) == ["d@notbücher.de", "e@bucher.de"]
        assert_stats_match_roster(db, campaign["id"])

    def test_a_replayed_add_removes_nothing_again(self, api, db, email_campaign):
        # The replay is the first response, byte for byte, and does not run the removal.
        key = {"Idempotency-Key": "suppress-ann-1"}
        add_leads(api, email_campaign, [{"email": "ann@example.com"}])
        request = {"entries": [ANN], "remove_from_drafts": True}
        first = api.post(SUPPRESSIONS, json=request, headers=key)
        assert first.json["removed_from_drafts"]["leads"] == 1
        # Lift the entry and add the lead again: a real second run would remove it.
        assert api.delete(SUPPRESSIONS, json={"ids": [first.json["results"][0]["id"]]}).json == {
            "deleted": 1
        }
        add_leads(api, email_campaign, [{"email": "ann@example.com"}])
        before = database_state(db)

        retry = api.post(SUPPRESSIONS, json=request, headers=key)

        assert (retry.status_code, retry.data) == (200, first.data)
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert database_state(db) == before
        assert stored_emails(db, email_campaign) == ["ann@example.com"]


def not_a_domain(value: str, reason: str) -> tuple[dict, str, str]:
    """A case of TestBadInput: a domain entry that is no domain name, for `reason`."""
    return (
        {"kind": "domain", "value": value},
        "value",
        f"domain is not a valid domain name ({reason})",
    )


class TestBadInput:
    """Every bad input is a 400 naming every offending index, and nothing is written: not
    the valid entries of the request, not a removal from a draft."""

    @pytest.fixture(autouse=True)
    def listed_and_rostered(self, api, email_campaign):
        suppress(api, [{"kind": "email", "value": "old@example.com"}])
        add_leads(api, email_campaign, [{"email": "ann@example.com"}, {"email": "x@acme.com"}])

    @pytest.mark.parametrize(
        ("entry", "field", "message"),
        [
            ({"kind": "phone", "value": "+1 555"}, "kind", KINDS),
            ({"kind": "Email", "value": "ann@example.com"}, "kind", KINDS),
            ({"kind": None, "value": "ann@example.com"}, "kind", "Field may not be null."),
            ({"value": "ann@example.com"}, "kind", "Missing data for required field."),
            ({"kind": "email"}, "value", "Missing data for required field."),
            ({"kind": "email", "value": None}, "value", "Field may not be null."),
            ({"kind": "email", "value": "  "}, "value", "Field may not be blank."),
            ({"kind": "email", "value": "nope"}, "value", NOT_AN_EMAIL),
            ({"kind": "domain", "value": "acme"}, "value", NO_PERIOD),
            not_a_domain(
                "1.2.3.4", "The domain is not valid. It is not within a valid top-level domain."
            ),
            not_a_domain(
                "[1.2.3.4]", "A bracketed IP address after the @-sign is not allowed here."
            ),
            not_a_domain(" acme.com. ", "A domain cannot end with a period."),
            not_a_domain("acme.com. with spaces", "The domain contains invalid characters: SPACE."),
            not_a_domain(
                "example.invalid",
                "The domain is a special-use or reserved name that cannot be used with email.",
            ),
            ({"kind": "domain", "value": "@"}, "value", "domain is empty"),
            (
                {"kind": "domain", "value": "a" * 250 + ".com"},
                "value",
                "domain is longer than 253 characters",
            ),
            # A domain is not an email, and the other way round.
            not_a_domain("ann@acme.com", "The domain contains invalid characters: '@'."),
            ({"kind": "email", "value": "acme.com"}, "value", NOT_AN_EMAIL),
            (
                {"kind": "linkedin_url", "value": "https://www.linkedin.com/company/acme"},
                "value",
                "linkedin_url is not a profile URL (expected /in/<profile>)",
            ),
            (
                {"kind": "linkedin_url", "value": "https://example.com/in/ann"},
                "value",
                "linkedin_url is not on a LinkedIn host",
            ),
            ({**ANN, "reason": "spam"}, "reason", REASONS),
            ({**ANN, "reason": None}, "reason", "Field may not be null."),
            ({**ANN, "note": "n" * 501}, "note", "Longer than maximum length 500."),
            ({**ANN, "note": 5}, "note", "Not a valid string."),
            ({**ANN, "id": MISSING_UUID}, "id", "Unknown field."),
            ({**ANN, "remove_from_drafts": True}, "remove_from_drafts", "Unknown field."),
        ],
    )
    def test_a_bad_entry_is_named_by_its_index(self, rejected, entry, field, message):
        body = {"entries": [ACME, entry], "remove_from_drafts": True}
        error = row_error(1, field, message, rows="entries")
        rejected("POST", SUPPRESSIONS, 400, error, json=body)

    def test_every_offending_index_is_named(self, rejected):
        entries = [
            ANN,
            {"kind": "phone", "value": "+1 555"},
            ACME,
            {"kind": "domain", "value": "acme"},
            {**BOB, "note": "n" * 501, "extra": 1},
            {"kind": "linkedin_url", "value": "https://www.linkedin.com/company/acme"},
            {"kind": "email", "value": "x@example.com"},
        ]
        error = entry_errors(
            "entries[1].kind: Must be one of: email, domain, linkedin_url; "
            f"entries[3].value: {NO_PERIOD}; "
            "entries[4].note: Longer than maximum length 500; "
            "entries[4].extra: Unknown field; "
            "entries[5].value: linkedin_url is not a profile URL (expected /in/<profile>)",
            {
                1: {"kind": [KINDS]},
                3: {"value": [NO_PERIOD]},
                4: {"extra": ["Unknown field."], "note": ["Longer than maximum length 500."]},
                5: {"value": ["linkedin_url is not a profile URL (expected /in/<profile>)"]},
            },
        )
        body = {"entries": entries, "remove_from_drafts": True}
        rejected("POST", SUPPRESSIONS, 400, error, json=body)

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            ({"entries": []}, bad_body("entries", "Length must be between 1 and 1000.")),
            (
                {"entries": [{"kind": "email", "value": f"p{n}@example.com"} for n in range(1001)]},
                bad_body("entries", "Length must be between 1 and 1000."),
            ),
            ({}, bad_body("entries", "Missing data for required field.")),
            ({"entries": None}, bad_body("entries", "Field may not be null.")),
            ({"entries": ANN}, bad_body("entries", "Not a valid list.")),
            ({"entries": [ANN], "dedupe": "workspace"}, bad_body("dedupe", "Unknown field.")),
            (
                {"entries": [ANN], "remove_from_drafts": "yes"},
                bad_body("remove_from_drafts", "Not a valid boolean."),
            ),
            (
                {"entries": [ANN], "remove_from_drafts": 1},
                bad_body("remove_from_drafts", "Not a valid boolean."),
            ),
            (
                {"entries": [ANN, "ann@example.com"]},
                bad_request(
                    "entries[1]: Invalid input type",
                    {"json": {"entries": {"1": {"_schema": ["Invalid input type."]}}}},
                ),
            ),
        ],
        ids=[
            "no-entries",
            "1001-entries",
            "missing",
            "null",
            "not-a-list",
            "unknown-key",
            "string-flag",
            "number-flag",
            "entry-not-an-object",
        ],
    )
    def test_a_bad_envelope_is_refused(self, rejected, body, error):
        rejected("POST", SUPPRESSIONS, 400, error, json=body)


@pytest.fixture
def listed(api, db) -> list[dict]:
    """Nine entries of acme in three requests (three created_at), as the API lists them."""
    suppress(api, [ANN, ACME, BOB])
    suppress(
        api,
        [
            {"kind": "email", "value": "bob@ACME.com", "reason": "bounced", "note": "hard"},
            {"kind": "domain", "value": "notacme.com"},
            {"kind": "linkedin_url", "value": "linkedin.com/in/acme-fan"},
        ],
    )
    suppress(
        api,
        [
            {"kind": "email", "value": "cy@example.com", "reason": "unsubscribed"},
            {"kind": "domain", "value": "initech.com", "reason": "complained"},
            {"kind": "email", "value": "dee@example.com"},
        ],
    )
    return [entry_as_listed(row) for row in entries_of(db)]


class TestList:
    def test_whole_list_oldest_first(self, api, listed, other_api):
        suppress(other_api, [{"kind": "email", "value": "theirs@example.com"}])
        assert [entry["value"] for entry in listed] == [
            "ann@example.com",
            "acme.com",
            "https://www.linkedin.com/in/bob",
            "bob@acme.com",
            "notacme.com",
            "https://www.linkedin.com/in/acme-fan",
            "cy@example.com",
            "initech.com",
            "dee@example.com",
        ]
        assert api.get(SUPPRESSIONS).json == {
            "suppressions": listed,
            "total": 9,
            "next_cursor": None,
        }

    @pytest.mark.parametrize("kind", ["email", "domain", "linkedin_url"])
    def test_kind_filter(self, api, listed, kind):
        expected = [entry for entry in listed if entry["kind"] == kind]
        assert listing(api, kind=kind) == {
            "suppressions": expected,
            "total": len(expected),
            "next_cursor": None,
        }

    @pytest.mark.parametrize(
        ("query", "values"),
        [
            (
                {"q": "ACME"},
                [
                    "acme.com",
                    "bob@acme.com",
                    "notacme.com",
                    "https://www.linkedin.com/in/acme-fan",
                ],
            ),
            ({"q": "acme", "kind": "domain"}, ["acme.com", "notacme.com"]),
            ({"q": "%20Example.COM%20"}, ["ann@example.com", "cy@example.com", "dee@example.com"]),
            # No pattern characters: % and _ are themselves.
            ({"q": "%25"}, []),
            ({"q": "_"}, []),
            ({"q": "in/bob"}, ["https://www.linkedin.com/in/bob"]),
            ({"q": "nobody"}, []),
        ],
    )
    def test_q_is_a_case_insensitive_substring_of_the_value(self, api, listed, query, values):
        expected = [entry for entry in listed if entry["value"] in values]
        assert [entry["value"] for entry in expected] == values
        assert listing(api, **query) == {
            "suppressions": expected,
            "total": len(values),
            "next_cursor": None,
        }

    @pytest.mark.parametrize("limit", [1, 2, 4, 8, 9])
    @pytest.mark.parametrize("kind", [None, "email"])
    def test_cursor_pages_through_every_entry_once(self, api, listed, limit, kind):
        query = {"limit": limit} if kind is None else {"limit": limit, "kind": kind}
        expected = [entry for entry in listed if kind is None or entry["kind"] == kind]
        pages = []
        page = listing(api, **query)
        while True:
            pages.append(page)
            if page["next_cursor"] is None:
                break
            page = listing(api, **query, cursor=page["next_cursor"])

        assert [entry for page in pages for entry in page["suppressions"]] == expected
        assert [len(page["suppressions"]) for page in pages[:-1]] == [limit] * (len(pages) - 1)
        assert 1 <= len(pages[-1]["suppressions"]) <= limit
        assert {page["total"] for page in pages} == {len(expected)}

    def test_default_limit_is_100_and_200_is_the_most(self, api, db):
        for chunk in range(3):
            suppress(
                api,
                [{"kind": "email", "value": f"p{chunk}-{n}@example.com"} for n in range(100)],
            )
        every = [entry_as_listed(row) for row in entries_of(db)]
        default = listing(api)
        assert default["suppressions"] == every[:100]
        assert (default["total"], default["next_cursor"] is None) == (300, False)
        widest = listing(api, limit=200)
        assert widest["suppressions"] == every[:200]
        rest = listing(api, limit=200, cursor=widest["next_cursor"])
        assert rest == {"suppressions": every[200:], "total": 300, "next_cursor": None}

    @pytest.mark.parametrize(
        ("issued", "used"),
        [
            ({}, {"kind": "email"}),
            ({"kind": "email"}, {}),
            ({"kind": "email"}, {"kind": "domain"}),
            ({"q": "acme"}, {}),
            ({"q": "acme"}, {"q": "acmes"}),
            ({"kind": "domain", "q": "acme"}, {"kind": "domain"}),
        ],
    )
    def test_a_cursor_of_other_filters_is_refused(self, rejected, api, listed, issued, used):
        cursor = listing(api, limit=1, **issued)["next_cursor"]
        query = "&".join(f"{key}={value}" for key, value in {**used, "cursor": cursor}.items())
        rejected("GET", f"{SUPPRESSIONS}?{query}", 400, bad_query("cursor", OTHER_FILTERS))

    def test_a_roster_cursor_is_refused(self, rejected, api, email_campaign):
        suppress(api, [ANN])
        add_leads(api, email_campaign, [{"email": "a@example.com"}, {"email": "b@example.com"}])
        cursor = api.get(leads_url(email_campaign["id"], limit=1)).json["next_cursor"]
        rejected("GET", f"{SUPPRESSIONS}?cursor={cursor}", 400, bad_query("cursor", OTHER_FILTERS))

    @pytest.mark.parametrize(
        ("query", "error"),
        [
            ("limit=0", bad_query("limit", LIMIT_RANGE)),
            ("limit=201", bad_query("limit", LIMIT_RANGE)),
            ("limit=ten", bad_query("limit", "Not a valid integer.")),
            ("kind=phone", bad_query("kind", KINDS)),
            ("kind=EMAIL", bad_query("kind", KINDS)),
            ("cursor=garbage", bad_query("cursor", BAD_CURSOR)),
            ("q=" + "x" * 501, bad_query("q", "Longer than maximum length 500.")),
            ("q=", bad_query("q", "Field may not be blank.")),
            ("q=%20%09", bad_query("q", "Field may not be blank.")),
            ("page=2", bad_query("page", "Unknown field.")),
            (
                "kind=phone&limit=0",
                bad_request(
                    f"kind: {KINDS.rstrip('.')}; limit: {LIMIT_RANGE.rstrip('.')}",
                    {"query": {"kind": [KINDS], "limit": [LIMIT_RANGE]}},
                ),
            ),
        ],
    )
    def test_bad_queries_are_refused(self, rejected, listed, query, error):
        rejected("GET", f"{SUPPRESSIONS}?{query}", 400, error)


class TestDelete:
    def test_removes_the_entries_of_the_workspace_only(self, api, other_api, db, listed):
        suppress(other_api, [ANN])
        theirs = id_of(db, "email", "ann@example.com", workspace="globex")
        doomed = [listed[0]["id"], listed[4]["id"]]

        response = api.delete(
            SUPPRESSIONS, json={"ids": [*doomed, theirs, MISSING_UUID, doomed[0]]}
        )

        assert (response.status_code, response.json) == (200, {"deleted": 2})
        assert [entry_as_listed(row) for row in entries_of(db)] == [
            entry for entry in listed if entry["id"] not in doomed
        ]
        assert [row["id"] for row in entries_of(db, "globex")] == [theirs]

    def test_a_removed_entry_no_longer_suppresses(self, api, db, email_campaign):
        body = suppress(api, [ANN])
        assert api.delete(SUPPRESSIONS, json={"ids": [body["results"][0]["id"]]}).json == {
            "deleted": 1
        }
        assert check(api, [{"email": "ann@example.com"}]) == [
            {"index": 0, "suppressed": False, "matched": None}
        ]
        [lead] = add_leads(api, email_campaign, [{"email": "ann@example.com"}])
        assert lead["email"] == "ann@example.com"

    def test_five_hundred_ids_are_taken(self, api, db, listed):
        ids = [entry["id"] for entry in listed] + [MISSING_UUID] * 491
        assert api.delete(SUPPRESSIONS, json={"ids": ids}).json == {"deleted": 9}
        assert entries_of(db) == []

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            ({"ids": []}, bad_body("ids", "Length must be between 1 and 500.")),
            ({"ids": [MISSING_UUID] * 501}, bad_body("ids", "Length must be between 1 and 500.")),
            ({}, bad_body("ids", "Missing data for required field.")),
            ({"ids": None}, bad_body("ids", "Field may not be null.")),
            (
                {"ids": ["{first}", "nope", 7]},
                bad_request(
                    "ids[1], ids[2]: Not a valid UUID",
                    {"json": {"ids": {"1": ["Not a valid UUID."], "2": ["Not a valid UUID."]}}},
                ),
            ),
            ({"ids": ["{first}"], "all": True}, bad_body("all", "Unknown field.")),
        ],
        ids=["none", "501", "missing", "null", "not-uuids", "unknown-key"],
    )
    def test_bad_ids_are_refused(self, rejected, listed, body, error):
        if body.get("ids"):
            body = {**body, "ids": [listed[0]["id"] if i == "{first}" else i for i in body["ids"]]}
        rejected("DELETE", SUPPRESSIONS, 400, error, json=body)


class TestCheck:
    @pytest.fixture
    def entries(self, api, db) -> dict:
        suppress(
            api,
            [
                ANN,
                ACME,
                {"kind": "domain", "value": "eu.acme.com", "reason": "bounced"},
                {"kind": "email", "value": "boss@acme.com", "note": "asked twice"},
                BOB,
                {"kind": "domain", "value": "bücher.de"},
            ],
        )
        return {row["value"]: entry_as_listed(row) for row in entries_of(db)}

    def test_each_identity_gets_its_most_specific_entry(self, api, db, entries):
        identities = [
            ({"email": " ANN@example.com"}, "ann@example.com"),
            ({"email": "x@acme.com"}, "acme.com"),
            ({"email": "x@deep.sales.acme.com"}, "acme.com"),
            ({"email": "x@eu.acme.com"}, "eu.acme.com"),  # the longest domain
            ({"email": "x@deep.eu.acme.com"}, "eu.acme.com"),
            ({"email": "boss@acme.com"}, "boss@acme.com"),  # the email before its domain
            ({"email": "x@notacme.com"}, None),
            ({"email": "x@acme.co"}, None),
            ({"email": "x@acme.com.evil.io"}, None),
            ({"email": "ann@example.org"}, None),
            ({"linkedin_url": "uk.linkedin.com/in/BOB/"}, "https://www.linkedin.com/in/bob"),
            ({"linkedin_url": "linkedin.com/in/bobby"}, None),
            ({"email": "q@Bücher.de"}, "xn--bcher-kva.de"),
            ({"email": "q@eu.bücher.de"}, "xn--bcher-kva.de"),
            ({"email": "q@xn--bcher-kva.de"}, "xn--bcher-kva.de"),
            ({"email": "q@notbücher.de"}, None),
            ({"email": "q@bucher.de"}, None),
        ]
        before = database_state(db)

        results = check(api, [identity for identity, _ in identities])

        assert results == [
            {
                "index": index,
                "suppressed": value is not None,
                "matched": None if value is None else entries[value],
            }
            for index, (_, value) in enumerate(identities)
        ]
        assert database_state(db) == before  # read-only

    def test_a_thousand_identities_are_checked(self, api, entries):
        identities = [{"email": f"p{n}@{'acme.com' if n % 2 else 'x.io'}"} for n in range(1000)]
        assert check(api, identities) == [
            {
                "index": n,
                "suppressed": bool(n % 2),
                "matched": entries["acme.com"] if n % 2 else None,
            }
            for n in range(1000)
        ]

    def test_an_empty_list_matches_nothing(self, api):
        assert check(api, [{"email": "ann@example.com"}, {"linkedin_url": BOB["value"]}]) == [
            {"index": 0, "suppressed": False, "matched": None},
            {"index": 1, "suppressed": False, "matched": None},
        ]

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            (
                {"identities": [{"email": "ann@example.com", "linkedin_url": BOB["value"]}]},
                identity_error(0, "_schema", ONE_IDENTITY),
            ),
            (
                {"identities": [{"email": "a@example.com"}, {}]},
                identity_error(1, "_schema", ONE_IDENTITY),
            ),
            (
                {"identities": [{"email": "nope"}]},
                identity_error(0, "email", NOT_AN_EMAIL),
            ),
            (
                {"identities": [{"email": None}]},
                row_error(0, "email", "Field may not be null.", rows="identities"),
            ),
            (
                {"identities": [{"domain": "acme.com"}]},
                row_error(0, "domain", "Unknown field.", rows="identities"),
            ),
            ({"identities": []}, bad_body("identities", "Length must be between 1 and 1000.")),
            (
                {"identities": [{"email": "a@example.com"}] * 1001},
                bad_body("identities", "Length must be between 1 and 1000."),
            ),
            ({}, bad_body("identities", "Missing data for required field.")),
            (
                {"identities": [{"email": "a@example.com"}], "entries": []},
                bad_body("entries", "Unknown field."),
            ),
            (
                {
                    "identities": [
                        {"email": "a@example.com"},
                        {"email": "b@example.com", "linkedin_url": BOB["value"]},
                        {"linkedin_url": BOB["value"]},
                        {"linkedin_url": "https://www.linkedin.com/company/acme"},
                        {"email": "c@example.com", "linkedin_url": "x"},
                    ]
                },
                bad_request(
                    f"identities[1]: {ONE_IDENTITY.rstrip('.')}; identities[3]: "
                    "linkedin_url is not a profile URL (expected /in/<profile>); "
                    "identities[4]: linkedin_url is not on a LinkedIn host",
                    {
                        "json": {
                            "identities": {
                                "1": {"_schema": [ONE_IDENTITY]},
                                "3": {
                                    "linkedin_url": [
                                        "linkedin_url is not a profile URL (expected /in/<profile>)"
                                    ]
                                },
                                "4": {"linkedin_url": ["linkedin_url is not on a LinkedIn host"]},
                            }
                        }
                    },
                ),
            ),
        ],
        ids=[
            "both-keys",
            "no-key",
            "bad-email",
            "null-email",
            "unknown-key",
            "none",
            "1001",
            "missing",
            "unknown-top-key",
            "several",
        ],
    )
    def test_bad_identities_are_refused(self, rejected, entries, body, error):
        rejected("POST", SUPPRESSIONS_CHECK, 400, error, json=body)


class TestWorkspaceIsolation:
    def test_another_workspaces_entries_never_match(self, api, other_api, db, email_campaign):
        suppress(other_api, [ANN, ACME, BOB])
        theirs_draft = other_api.create_campaign("Theirs", "email")

        assert api.get(SUPPRESSIONS).json == {"suppressions": [], "total": 0, "next_cursor": None}
        assert check(api, [{"email": "ann@example.com"}, {"linkedin_url": BOB["value"]}]) == [
            {"index": 0, "suppressed": False, "matched": None},
            {"index": 1, "suppressed": False, "matched": None},
        ]
        leads = add_leads(
            api,
            email_campaign,
            [{"email": "ann@example.com"}, {"email": "x@acme.com", "linkedin_url": BOB["value"]}],
        )
        assert [lead["email"] for lead in leads] == ["ann@example.com", "x@acme.com"]

        # Their ids are skipped by acme's DELETE.
        their_ids = [row["id"] for row in entries_of(db, "globex")]
        response = api.delete(SUPPRESSIONS, json={"ids": their_ids})
        assert (response.status_code, response.json) == (200, {"deleted": 0})
        assert [row["id"] for row in entries_of(db, "globex")] == their_ids

        # Their removal from drafts never reaches acme's drafts.
        body = suppress(other_api, [ANN], remove_from_drafts=True)
        assert body["removed_from_drafts"] == {"leads": 0, "campaigns": []}
        assert stored_emails(db, email_campaign) == ["ann@example.com", "x@acme.com"]
        assert stored_leads(db, theirs_draft["id"]) == []

    def test_one_value_is_an_entry_in_each_workspace(self, api, other_api, db):
        mine = suppress(api, [ANN])
        theirs = suppress(other_api, [ANN])
        assert mine["added"] == theirs["added"] == 1
        assert mine["results"][0]["id"] != theirs["results"][0]["id"]
        assert [(row["workspace"], row["value"]) for row in stored_suppressions(db)] == [
            ("acme", "ann@example.com"),
            ("globex", "ann@example.com"),
        ]
        assert listing(api)["suppressions"] == [entry_as_listed(entries_of(db)[0])]


class TestAddRacingRemoval:
    @pytest.mark.parametrize("other_commits", [False, True], ids=["rolled-back", "committed"])
    def test_an_entry_removed_while_the_add_runs_is_added_again(
        self, app, token, api, db, database_url, other_commits
    ):
        # The add finds v1 in the list, then waits for v2, which another transaction is
        # inserting; meanwhile v1 is removed. The add must store v1 anew, not answer with
        # the removed entry's id or one it never stored.
        v1 = {"kind": "email", "value": "v1@example.com"}
        v2 = {"kind": "email", "value": "v2@example.com"}
        removed = suppress(api, [v1])["results"][0]["id"]
        other_id = str(uuid.uuid4())
        responses = {}

        def send():
            client = ApiClient(app, token)
            responses["add"] = client.post(SUPPRESSIONS, json={"entries": [v1, v2]})

        with open_transaction(database_url) as other:
            other.execute(
                "INSERT INTO suppressions (workspace_id, id, kind, value)"
                " SELECT workspace_id, %s, 'email', %s FROM suppressions WHERE id = %s",
                (other_id, v2["value"], removed),
            )
            adding = threading.Thread(target=send)
            adding.start()
            wait_for_lock_waiters(db, 1)
            assert api.delete(SUPPRESSIONS, json={"ids": [removed]}).json == {"deleted": 1}
            if other_commits:
                other.connection.commit()
        adding.join(THREAD_TIMEOUT)

        stored = {row["value"]: row["id"] for row in entries_of(db)}
        assert set(stored) == {v1["value"], v2["value"]}
        assert stored[v1["value"]] != removed
        assert (stored[v2["value"]] == other_id) is other_commits
        response = responses["add"]
        assert (response.status_code, response.json) == (
            200,
            {
                "added": 1 if other_commits else 2,
                "duplicates": 1 if other_commits else 0,
                "results": [
                    added(0, stored[v1["value"]], v1["value"]),
                    added(
                        1,
                        stored[v2["value"]],
                        v2["value"],
                        "duplicate" if other_commits else "added",
                    ),
                ],
            },
        )
