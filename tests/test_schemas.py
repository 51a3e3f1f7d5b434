"""The schemas of schemas/: which one each campaign type loads and documents, the bound that
spares custom_fields a serialization, and the bodies written without a schema dump.

- The campaign type picks the schema of a write's body, and the OpenAPI document shows
  the body as any of those schemas;
- custom_fields are serialized to measure them only when a size bound exceeds 16 KiB: the
  bound is never below the size;
- a page of leads, the import's and the removal's responses are written by orjson from
  what the database sends; each is what its response schema would dump, and what is
  stored is what the request schema loaded.
"""

from __future__ import annotations

import json
import re
import sys
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from leads.db.pool import transaction
from leads_contract.values import CAMPAIGN_TYPES
from schemas.fields import (
    CUSTOM_FIELDS_MAX_BYTES,
    NOT_BLANK_PATTERN,
    STORABLE_PATTERN,
    WHITE_SPACE_CLASS,
    CustomFields,
    TrimmedString,
    _check_json_value,
)
from schemas.key_rules import AtLeastOneKey, ExactlyOneKey
from schemas.leads import (
    LEAD_UPDATE_SCHEMAS,
    LEADS_ADD_SCHEMAS,
    LeadsAddedSchema,
    LeadSchema,
    LeadsDeletedSchema,
)
from tests.contract import workspace_of

PROPERTY = settings(max_examples=300, deadline=None)
THROUGH_HTTP = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def outcome(load, *args):
    """What `load(*args)` returns, or the messages of the ValidationError it raises."""
    try:
        return load(*args)
    except ValidationError as error:
        return error.messages


IDENTITY_OF = {"email": "email", "linkedin": "linkedin_url"}


class TestSchemaPerCampaignType:
    @pytest.mark.parametrize("schemas", [LEADS_ADD_SCHEMAS, LEAD_UPDATE_SCHEMAS])
    def test_every_campaign_type_has_its_schema(self, schemas):
        assert sorted(schemas) == sorted(CAMPAIGN_TYPES)
        assert len({type(schema) for schema in schemas.values()}) == len(CAMPAIGN_TYPES)

    @pytest.mark.parametrize("campaign_type", CAMPAIGN_TYPES)
    def test_a_row_needs_the_identity_of_its_campaign_type_only(self, campaign_type):
        field = IDENTITY_OF[campaign_type]
        other = next(name for name in IDENTITY_OF.values() if name != field)
        schema = LEADS_ADD_SCHEMAS[campaign_type]
        valid = {"email": "ann@example.com", "linkedin_url": "linkedin.com/in/ann"}[field]

        loaded = schema.load({"prospects": [{field: valid, other: "not valid"}]})
        assert loaded["prospects"][0][other] is None
        assert outcome(schema.load, {"prospects": [{other: None}]}) == {
            "prospects": {0: {field: [f"{field} is required for {campaign_type} campaigns"]}}
        }

    @pytest.mark.parametrize("campaign_type", CAMPAIGN_TYPES)
    def test_an_update_cannot_clear_the_identity_of_its_campaign_type(self, campaign_type):
        field = IDENTITY_OF[campaign_type]
        other = next(name for name in IDENTITY_OF.values() if name != field)
        schema = LEAD_UPDATE_SCHEMAS[campaign_type]
        lead_id = uuid.uuid4()

        cleared = schema.load({"prospect_id": str(lead_id), "updates": {other: " "}})
        assert cleared == {"prospect_id": lead_id, "updates": {other: None}}
        assert outcome(schema.load, {"prospect_id": str(lead_id), "updates": {field: ""}}) == {
            "updates": {field: [f"{field} cannot be cleared for {campaign_type} campaigns"]}
        }

    @pytest.mark.parametrize(
        ("method", "schemas"), [("post", LEADS_ADD_SCHEMAS), ("patch", LEAD_UPDATE_SCHEMAS)]
    )
    def test_the_document_shows_the_body_as_any_of_them(self, app, method, schemas):
        document = app.test_client().get("/openapi.json").json
        operation = document["paths"]["/api/campaigns/{campaign_id}/leads"][method]
        body = operation["requestBody"]

        names = [type(schema).__name__.removesuffix("Schema") for schema in schemas.values()]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"] == {
            "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in names]
        }
        assert all(f"`{name}`" in body["description"] for name in names)
        assert "400" in operation["responses"]


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
        validated = LEADS_ADD_SCHEMAS["email"].load({"prospects": sent})["prospects"]

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
                row = tx.fetch_one(
                    "get_lead",
                    {
                        "workspace_id": workspace_of(db, campaign_id),
                        "lead_id": lead_id,
                        "campaign_id": campaign_id,
                    },
                )
                # get_lead gives custom_fields as the database writes them (json_bodies).
                row["custom_fields"] = json.loads(row["custom_fields"])
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


KEY_SETS = [(), ("a",), ("b",), ("a", "b")]


class TestTheDocumentStatesWhatIsChecked:
    """What the document's schemas say of a request is what the schemas check, where
    OpenAPI can say it."""

    def test_the_white_space_class_is_what_strip_drops(self):
        white_space = re.compile(f"[{WHITE_SPACE_CLASS}]")
        assert [
            code
            for code in range(sys.maxunicode + 1)
            if bool(white_space.fullmatch(chr(code))) != chr(code).isspace()
        ] == []

    # Lone surrogates (a JSON "\ud800" escape) are refused in words only: a pattern that
    # excluded them would, in ECMA-262's UTF-16 terms, exclude every astral character too.
    @given(
        st.text(
            alphabet=st.sampled_from("a \t\x00\x1c\x85\u3000\ufeff")
            | st.characters(exclude_categories=["Cs"])
        )
    )
    @PROPERTY
    def test_a_trimmed_string_loads_exactly_when_its_pattern_matches(self, text):
        for field, pattern in (
            (TrimmedString(), STORABLE_PATTERN),
            (TrimmedString(allow_none=False), NOT_BLANK_PATTERN),
        ):
            assert field.metadata["pattern"] == pattern
            try:
                field.deserialize(text)
                loaded = True
            except ValidationError:
                loaded = False
            assert loaded == bool(re.search(pattern, text))

    @pytest.mark.parametrize(
        ("rule", "keywords", "refused"),
        [
            (AtLeastOneKey("none"), {"minProperties": 1}, [()]),
            (
                ExactlyOneKey(("a", "b"), "none"),
                {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
                [(), ("a", "b")],
            ),
        ],
    )
    def test_a_key_rule_refuses_what_its_keywords_refuse(self, rule, keywords, refused):
        assert rule.json_schema() == keywords
        outcomes = {keys: outcome(rule.check, dict.fromkeys(keys)) for keys in KEY_SETS}
        assert outcomes == {keys: ["none"] if keys in refused else None for keys in KEY_SETS}

    def test_the_request_schemas_carry_their_key_rules(self, app):
        components = app.test_client().get("/openapi.json").json["components"]["schemas"]
        selector = {"oneOf": [{"required": ["prospect_ids"]}, {"required": ["all"]}]}
        assert {
            name: {key: components[name].get(key) for key in ("oneOf", "minProperties")}
            for name in (
                "LeadsDelete",
                "EmailLeadUpdates",
                "LinkedinLeadUpdates",
                "IdentityToCheck",
                "WebhookUpdate",
            )
        } == {
            "LeadsDelete": {**selector, "minProperties": None},
            "EmailLeadUpdates": {"oneOf": None, "minProperties": 1},
            "LinkedinLeadUpdates": {"oneOf": None, "minProperties": 1},
            "IdentityToCheck": {
                "oneOf": [{"required": ["email"]}, {"required": ["linkedin_url"]}],
                "minProperties": None,
            },
            "WebhookUpdate": {"oneOf": None, "minProperties": 1},
        }
        assert components["LeadsDelete"]["properties"]["all"] == {
            "description": "true removes every lead of the campaign.",
            "enum": [True],
            "type": "boolean",
        }
