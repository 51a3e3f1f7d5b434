"""The fast paths of issue 5 give the answers of the slow paths they skip.

- plain ASCII emails skip email_validator (leads/identity.py);
- a valid lead row skips marshmallow's per-row machinery (LeadInputSchema.load), and a
  batch of valid rows its list and nested fields (LeadRows);
- custom_fields are serialized to measure them only when a size bound exceeds 16 KiB;
- a list of canonical lead ids is checked with one pattern each (UuidTextList);
- a list query of plain values skips marshmallow's passes (LeadsListQuerySchema.load);
- a page of leads is written by orjson from the columns the database sends, not a LeadSchema dump;
- the rows of an import reach the database as one JSON document (json_to_recordset);
- the import's response is encoded without a LeadsAddedSchema dump.
"""

from __future__ import annotations

import json
import string
import uuid
from datetime import UTC, datetime
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from marshmallow.utils import missing
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import MultiDict

from leads.db.pool import transaction
from leads.domain import identity
from leads.domain.cursors import LeadCursor, encode_cursor
from leads.domain.identity import InvalidIdentity, normalize_email
from leads.domain.statuses import LEAD_STATUSES
from schemas.fields import (
    CUSTOM_FIELDS_MAX_BYTES,
    CampaignContext,
    CustomFields,
    ShortcutField,
    TrimmedString,
    UuidTextList,
    _check_json_value,
)
from schemas.leads import (
    MAX_LEADS_PER_ADD,
    LeadInputSchema,
    LeadsAddedSchema,
    LeadsAddSchema,
    LeadSchema,
    LeadsDeletedSchema,
    LeadsListQuerySchema,
)

PROPERTY = settings(max_examples=300, deadline=None)


def outcome(load, *args):
    """What `load(*args)` returns, or the messages of the ValidationError it raises: a fast
    path and the path it skips must agree on both."""
    try:
        return load(*args)
    except ValidationError as error:
        return error.messages


THROUGH_HTTP = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def email_validator_answer(email: str) -> str | InvalidIdentity:
    """normalize_email with the fast path turned off: email_validator decides everything."""
    with mock.patch.object(identity, "_plain_email_key", return_value=None):
        try:
            return normalize_email(email)
        except InvalidIdentity as error:
            return error


def answer(email: str) -> str | InvalidIdentity:
    try:
        return normalize_email(email)
    except InvalidIdentity as error:
        return error


def same_answer(email: str) -> None:
    fast, slow = answer(email), email_validator_answer(email)
    if isinstance(slow, InvalidIdentity):
        assert isinstance(fast, InvalidIdentity) and str(fast) == str(slow), (email, fast)
    else:
        assert fast == slow, email


class TestPlainEmails:
    @pytest.mark.parametrize(
        "email, key",
        [
            ("ada@example.com", "ada@example.com"),
            ("Ada.Lovelace+Tag@Example.COM", "ada.lovelace+tag@example.com"),
            ("first_last-1@mail.co.uk", "first_last-1@mail.co.uk"),
            ("a@b.cd", "a@b.cd"),
            ("x" * 64 + "@example.com", "x" * 64 + "@example.com"),
        ],
    )
    def test_plain_addresses_take_the_fast_path(self, email, key):
        assert identity._plain_email_key(email) == key
        assert email_validator_answer(email) == key

    @pytest.mark.parametrize(
        "email",
        [
            "x" * 65 + "@example.com",  # email_validator allows a long local part
            "ada@example.test",  # special-use names: email_validator refuses them
            "ada@printer.local",
            "ada@localhost.localhost",
            "ada@1.in-addr.arpa",
            "ada@xn--bcher-kva.example",  # Punycode: email_validator checks the IDNA
            "ada@ab--cd.example",  # R-LDH label: refused by email_validator
            "o'brien@example.com",  # atext the pattern leaves to email_validator
            "ada@example.c0m",
            "ada@-example.com",
            "ada..lovelace@example.com",
            "jörg@example.com",
            "ada@exämple.com",
            '"ada"@example.com',
            "ada@[192.168.0.1]",
        ],
    )
    def test_anything_else_goes_to_email_validator(self, email):
        assert identity._plain_email_key(email) is None
        same_answer(email)

    @PROPERTY
    @given(st.from_regex(identity._PLAIN_EMAIL, fullmatch=True))
    def test_what_the_pattern_takes_email_validator_takes_alike(self, email):
        same_answer(email)

    @PROPERTY
    @given(st.emails())
    def test_generated_addresses(self, email):
        same_answer(email)

    @PROPERTY
    @given(st.text(alphabet=string.ascii_letters + string.digits + "@.-_+'\"é ", max_size=40))
    def test_address_like_text(self, text):
        same_answer(text)


VALUE = st.one_of(
    st.none(),
    st.just(""),
    st.just("   "),
    st.text(max_size=12),
    st.text(min_size=195, max_size=205),
    st.integers(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
CUSTOM_FIELDS = st.one_of(
    st.none(),
    st.dictionaries(st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True), JSON_VALUE, max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.text(max_size=3),
)
EMAIL = st.one_of(
    st.emails(), st.sampled_from(["ada@example.com", " Ada@Example.COM ", "no-at-sign", ""])
)
LINKEDIN = st.one_of(
    st.sampled_from(
        [
            "linkedin.com/in/ada-lovelace",
            "https://www.linkedin.com/company/acme",
            "https://uk.linkedin.com/in/J%C3%B6rg/",
            "",
        ]
    ),
    st.text(max_size=20),
)
ROW = st.fixed_dictionaries(
    {},
    optional={
        "email": st.one_of(EMAIL, VALUE),
        "linkedin_url": st.one_of(LINKEDIN, VALUE),
        "first_name": VALUE,
        "last_name": VALUE,
        "name": VALUE,
        "company": VALUE,
        "position": VALUE,
        "headline": VALUE,
        "custom_fields": CUSTOM_FIELDS,
        "status": st.just("sent"),
        "nickname": st.text(max_size=3),
    },
)


# Values of every JSON type and of sizes around the 16 KiB limit, escapes and astral
# characters included (a character may serialize to 1, 2, 4 or 6 bytes).
BIG_JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.builds(lambda char, n: char * n, st.sampled_from('a"\\\x01é€😀'), st.integers(0, 3000)),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=10,
)


def exact_custom_fields_answer(value: dict) -> dict | str:
    """What CustomFields answers when it serializes every object to measure it."""
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > CUSTOM_FIELDS_MAX_BYTES:
        return f"Must be at most {CUSTOM_FIELDS_MAX_BYTES} bytes serialized, got {size}."
    return value


class TestCustomFieldsSizeBound:
    """custom_fields skips serializing an object whose computed size bound is within 16 KiB."""

    @PROPERTY
    @given(BIG_JSON_VALUE)
    def test_the_bound_is_never_below_the_serialized_size(self, value):
        try:
            bound = _check_json_value(value, "k", depth=1)
        except ValidationError:
            return  # nested too deep or holding NUL: refused before any size is needed
        exact = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        assert bound >= exact, value

    @PROPERTY
    @given(st.dictionaries(st.from_regex(r"[A-Za-z0-9_]{1,64}", fullmatch=True), BIG_JSON_VALUE))
    def test_the_answer_is_the_exact_measure(self, value):
        got = outcome(CustomFields().deserialize, value)
        if isinstance(got, list):  # the messages of a refusal
            got = got[0]
        if isinstance(got, str) and "bytes serialized" not in got:
            return  # refused for another reason (depth, NUL, too many keys)
        assert got == exact_custom_fields_answer(value)

    @pytest.mark.parametrize("size", [16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1])
    def test_at_the_limit(self, size):
        value = {"k": "x" * (size - len('{"k":""}'))}
        assert len(json.dumps(value, separators=(",", ":"))) == size
        if size <= CUSTOM_FIELDS_MAX_BYTES:
            assert CustomFields().deserialize(value) == value
        else:
            with pytest.raises(ValidationError) as error:
                CustomFields().deserialize(value)
            assert error.value.messages == [f"Must be at most 16384 bytes serialized, got {size}."]


UUID_LIKE = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda value: str(value).upper()),
    st.uuids().map(lambda value: "{" + value.hex + "}"),
    st.uuids().map(lambda value: "urn:uuid:" + value.hex[:27]),
    st.text(alphabet="0123456789abcdefABCDEF-{}:urn", min_size=36, max_size=36),
    st.text(max_size=40),
    st.integers(),
    st.none(),
)


class TestUuidTextList:
    """prospect_ids: UuidTextList gives List(fields.UUID())'s answer as text, errors included."""

    @PROPERTY
    @given(
        st.one_of(
            st.lists(st.uuids().map(str), max_size=20),
            st.lists(st.uuids().map(lambda value: str(value).upper()), max_size=20),
            st.lists(UUID_LIKE, max_size=20),
            # Ids joined by commas inside one item; a Kelvin sign, which lowercases to ASCII "k".
            st.lists(st.lists(st.uuids().map(str), min_size=1, max_size=3).map(",".join)),
            st.lists(st.uuids().map(lambda value: str(value).replace("a", "\u212a"))),
            UUID_LIKE,
            st.dictionaries(st.text(max_size=3), st.uuids().map(str), max_size=3),
        )
    )
    def test_same_answer_as_marshmallow(self, value):
        marshmallow_list = fields.List(fields.UUID())
        expected = outcome(lambda: [str(item) for item in marshmallow_list.deserialize(value)])
        assert outcome(UuidTextList().deserialize, value) == expected

    def test_an_item_holding_two_ids_is_an_error(self):
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        with pytest.raises(ValidationError) as error:
            UuidTextList().deserialize([first, f"{first},{second}"])
        assert error.value.messages == {1: ["Not a valid UUID."]}

    def test_canonical_ids_come_out_lowercase(self):
        lead_id = uuid.uuid4()
        assert UuidTextList().deserialize([str(lead_id).upper(), str(lead_id)]) == [
            str(lead_id),
            str(lead_id),
        ]


CURSOR = st.builds(
    lambda campaign_id, created_at, lead_id, status: encode_cursor(
        LeadCursor(campaign_id, created_at, lead_id, status)
    ),
    st.uuids(),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.uuids(),
    st.one_of(st.none(), st.sampled_from(LEAD_STATUSES)),
)
ODD_NUMBERS = ["", " 5", "5 ", "+5", "-0", "1_0", "1.0", "٥", "²", "0x10", "00012", "200", "201"]
ODD_NUMBERS += ["9007199254740991", "9007199254740992", "0" * 16 + "7", "1e3", "0"]
NUMBER_TEXT = st.one_of(
    st.integers(min_value=-5, max_value=10**17).map(str), st.sampled_from(ODD_NUMBERS)
)
QUERY_VALUE = st.one_of(
    NUMBER_TEXT, st.sampled_from(LEAD_STATUSES), CURSOR, CURSOR.map(lambda c: c[:-1]), st.text()
)
QUERY = st.dictionaries(
    st.sampled_from(["page", "limit", "status", "cursor", "other"]), QUERY_VALUE, max_size=4
)


class TestListQueryFastPath:
    """LeadsListQuerySchema reads a plain query itself; its answer is marshmallow's."""

    @PROPERTY
    @given(QUERY)
    def test_a_query_loads_as_marshmallow_loads_it(self, query):
        schema = LeadsListQuerySchema()
        expected = outcome(lambda: Schema.load(schema, query, unknown=RAISE))
        assert outcome(lambda: schema.load(query, unknown=RAISE)) == expected

    @PROPERTY
    @given(QUERY)
    def test_as_webargs_hands_it_over(self, query):
        schema = LeadsListQuerySchema()
        proxy = MultiDictProxy(MultiDict(query), schema)
        expected = outcome(lambda: Schema.load(schema, proxy, unknown=RAISE))
        assert outcome(lambda: schema.load(proxy, unknown=RAISE)) == expected

    @pytest.mark.parametrize("value", ODD_NUMBERS)
    @pytest.mark.parametrize("name", ["page", "limit"])
    def test_odd_numbers_load_as_marshmallow_loads_them(self, name, value):
        schema = LeadsListQuerySchema()
        expected = outcome(lambda: Schema.load(schema, {name: value}))
        assert outcome(lambda: schema.load({name: value})) == expected

    def test_a_plain_query_takes_the_fast_path(self):
        schema = LeadsListQuerySchema()
        cursor = encode_cursor(
            LeadCursor(uuid.uuid4(), datetime(2026, 1, 2, tzinfo=UTC), uuid.uuid4(), "sent")
        )
        slow_path = mock.patch.object(Schema, "_do_load", side_effect=AssertionError)
        with slow_path:
            by_page = schema.load({"limit": "200", "page": "3", "status": "sent"})
            by_cursor = schema.load({"cursor": cursor, "status": "sent"})

        assert by_page == {"page": 3, "limit": 200, "status": "sent"}
        assert by_cursor == {
            "page": 1,
            "limit": 100,
            "cursor": schema.fields["cursor"].deserialize(cursor),
            "status": "sent",
        }


class TestLeadRowFastPath:
    @PROPERTY
    @given(st.sampled_from(["email", "linkedin"]), st.one_of(ROW, VALUE))
    def test_a_row_loads_as_marshmallow_loads_it(self, campaign_type, row):
        schema = LeadInputSchema()
        with CampaignContext({"type": campaign_type}):
            expected = outcome(Schema.load, schema, row)  # marshmallow's own load, no fast path
            got = outcome(schema.load, row)

        assert got == expected

    def test_the_fast_path_is_taken_for_a_valid_row(self):
        schema = LeadInputSchema()
        row = {"email": " Ada@Example.com ", "first_name": " Ada ", "custom_fields": None}
        with CampaignContext({"type": "email"}):
            loaded = schema.load_if_valid(row)

        assert loaded == {
            "first_name": "Ada",
            "custom_fields": {},
            "email": "ada@example.com",
            "linkedin_url": None,
        }


class MarshmallowRowSchema(LeadInputSchema):
    """LeadInputSchema loaded by marshmallow's own load: no fast path."""

    def load(self, data, **kwargs):
        return Schema.load(self, data, **kwargs)


class MarshmallowAddSchema(Schema):
    """LeadsAddSchema as plain marshmallow: List(Nested(...)), every row by Schema.load."""

    class Meta:
        unknown = RAISE

    prospects = fields.List(
        fields.Nested(MarshmallowRowSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_LEADS_PER_ADD),
    )


SHORTCUT_FIELDS = [
    TrimmedString(),
    TrimmedString(max_length=5),
    TrimmedString(required=True),
    TrimmedString(load_default="unnamed"),
    CustomFields(),
    CustomFields(required=True),
]


@PROPERTY
@given(
    st.sampled_from(SHORTCUT_FIELDS),
    st.one_of(st.just(missing), VALUE, st.dictionaries(st.text(max_size=4), JSON_VALUE)),
)
def test_the_shortcuts_answer_as_marshmallow(field, value):
    """ShortcutField skips deserialize()'s passes only where they would change nothing: a
    plain value, an absent optional key. Its answer is marshmallow's own, errors included."""
    assert outcome(ShortcutField.deserialize, field, value) == outcome(
        fields.Field.deserialize, field, value
    )


@pytest.mark.parametrize("field", SHORTCUT_FIELDS, ids=repr)
def test_an_absent_key_answers_as_marshmallow(field):
    assert outcome(field.deserialize, missing) == outcome(fields.Field.deserialize, field, missing)


@pytest.mark.parametrize("field", SHORTCUT_FIELDS, ids=repr)
def test_a_row_skips_an_absent_key_only_where_marshmallow_would_return_missing(field):
    """LeadInputSchema.load_if_valid calls no field for a key the row lacks when the field
    says `skips_absent_key`: marshmallow's answer must be `missing` there, and something
    else (an error, a default) for every other field."""
    answer = outcome(fields.Field.deserialize, field, missing)
    assert (answer is missing) == field.skips_absent_key


class TestLeadBatchFastPath:
    """LeadRows: a batch loads, or fails with the same messages, as plain marshmallow's."""

    @PROPERTY
    @given(
        st.sampled_from(["email", "linkedin"]),
        st.one_of(st.lists(st.one_of(ROW, VALUE), max_size=5), st.lists(ROW, max_size=5), VALUE),
    )
    def test_a_batch_loads_as_marshmallow_loads_it(self, campaign_type, prospects):
        body = {"prospects": prospects}
        with CampaignContext({"type": campaign_type}):
            expected = outcome(MarshmallowAddSchema().load, body)
            got = outcome(LeadsAddSchema().load, body)

        assert got == expected

    def test_a_valid_batch_takes_the_fast_path(self):
        rows = [{"email": f" Lead{n}@Example.com ", "custom_fields": {"n": n}} for n in range(3)]
        slow_path = mock.patch.object(fields.List, "_deserialize", side_effect=AssertionError)
        with CampaignContext({"type": "email"}), slow_path:
            loaded = LeadsAddSchema().load({"prospects": rows})

        assert loaded == {
            "prospects": [
                {"custom_fields": {"n": n}, "email": f"lead{n}@example.com", "linkedin_url": None}
                for n in range(3)
            ]
        }

    def test_one_bad_row_among_valid_ones_is_named_alone(self):
        rows = [{"email": f"lead{n}@example.com"} for n in range(5)]
        rows[3] = {"email": "not an address"}
        with CampaignContext({"type": "email"}):
            messages = outcome(LeadsAddSchema().load, {"prospects": rows})
            expected = outcome(MarshmallowAddSchema().load, {"prospects": rows})

        assert list(messages["prospects"]) == [3]
        assert messages == expected


TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=1,
    max_size=20,
).filter(lambda text: text.strip())
STORED_ROW = st.fixed_dictionaries(
    {},
    optional={
        "first_name": TEXT,
        "last_name": TEXT,
        "name": TEXT,
        "company": TEXT,
        "position": TEXT,
        "headline": TEXT,
        "custom_fields": st.dictionaries(
            st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True),
            st.recursive(
                st.none()
                | st.booleans()
                | st.integers(min_value=-(2**60), max_value=2**60)
                # Beyond 64 bits: orjson refuses them, json writes the batch instead.
                | st.sampled_from([2**64, -(2**63) - 1, 10**30])
                | st.floats(allow_nan=False, allow_infinity=False)
                | TEXT,
                lambda children: (
                    st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3)
                ),
                max_leaves=6,
            ),
            max_size=4,
        ),
    },
)


def as_jsonb(db, value: dict) -> dict:
    """What jsonb keeps of a JSON value (1e16 comes back as the integer it is)."""
    with db.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb", (json.dumps(value),))
        return cursor.fetchone()[0]


class TestJsonBuiltOutsideMarshmallow:
    @pytest.mark.parametrize("number", [2**63 - 1, 2**64, -(2**63) - 1, 10**30])
    def test_integers_of_any_size_are_stored_as_sent(self, api, db, number):
        campaign_id = api.create_campaign(f"Campaign {number}", "email")["id"]
        sent = [
            {"email": "big@example.com", "custom_fields": {"n": number, "tier": "gold"}},
            {"email": "small@example.com", "custom_fields": {"n": 1}},
        ]

        added = api.post(f"/api/campaigns/{campaign_id}/leads", json={"prospects": sent})

        assert added.status_code == 200, added.json
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT email, custom_fields->>'n' FROM leads WHERE campaign_id = %s"
                " ORDER BY email",
                (campaign_id,),
            )
            assert cursor.fetchall() == [
                ("big@example.com", str(number)),
                ("small@example.com", "1"),
            ]

    @THROUGH_HTTP
    @given(rows=st.lists(STORED_ROW, min_size=1, max_size=5))
    def test_stored_listed_and_reported_as_the_schemas_say(self, api, pool, db, rows):
        tag = uuid.uuid4().hex[:12]
        campaign_id = api.create_campaign(f"Campaign {tag}", "email")["id"]
        sent = [{**row, "email": f"lead{n}.{tag}@example.com"} for n, row in enumerate(rows)]
        with CampaignContext({"type": "email"}):
            validated = [LeadInputSchema().load(row) for row in sent]

        added = api.post(f"/api/campaigns/{campaign_id}/leads", json={"prospects": sent})

        assert added.status_code == 200, added.json
        # The body encoded without the schema is what the schema would have made of it.
        assert LeadsAddedSchema().dump(added.json) == added.json
        ids = [result["id"] for result in added.json["results"]]
        # Stored: exactly the validated values (the JSON document lost nothing).
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT id::text, email, linkedin_url, first_name, last_name, name, company,"
                " position, headline, custom_fields FROM leads WHERE id = ANY(%s::uuid[])",
                (ids,),
            )
            stored = {row[0]: row[1:] for row in cursor.fetchall()}
        columns = ("email", "linkedin_url", "first_name", "last_name", "name", "company")
        columns += ("position", "headline")
        for lead_id, row in zip(ids, validated, strict=True):
            assert stored[lead_id] == (
                *(row.get(column) for column in columns),
                as_jsonb(db, row.get("custom_fields") or {}),
            )
        # Listed: each lead as LeadSchema dumps the row the database holds.
        listed = api.get(f"/api/campaigns/{campaign_id}/leads?limit=200")
        assert listed.status_code == 200
        shown = {lead["id"]: lead for lead in listed.json["prospects"]}
        with transaction(pool, read_only=True) as tx:
            for lead_id in ids:
                row = tx.fetch_one("get_lead", {"lead_id": lead_id, "campaign_id": campaign_id})
                assert shown[lead_id] == LeadSchema().dump(row)
        # Removed: the body encoded without the schema is what the schema would make of it,
        # keys in the schema's order.
        removed = api.delete(f"/api/campaigns/{campaign_id}/leads", json={"prospect_ids": ids})
        assert removed.status_code == 200
        assert removed.json["deleted"] == len(ids)
        dumped = LeadsDeletedSchema().dump(removed.json)
        assert json.loads(removed.data, object_pairs_hook=list) == json.loads(
            json.dumps(dumped), object_pairs_hook=list
        )
        # And the database holds what the body says: the leads gone, the stats at zero.
        with db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM leads WHERE id = ANY(%s::uuid[])", (ids,))
            assert cursor.fetchone()[0] == 0
            cursor.execute("SELECT stats FROM campaigns WHERE id = %s", (campaign_id,))
            assert cursor.fetchone()[0]["total"] == removed.json["stats"]["total"] == 0
