"""Contract fuzzing: schemathesis drives every operation of the live /openapi.json with a
valid token, in each of its phases (the document's examples, the coverage phase's boundary
and probe cases, random fuzzing, and stateful chains along the links), with rate limits
off, and checks each answer with every check: no 5xx, every status documented, every body
and required header as documented, schema-invalid input refused, schema-valid input
accepted.

Not checked: that a resource is gone after a DELETE (use_after_free: a DELETE of .../leads
removes leads from the roster; the roster stays and still lists, 200).

A schema-valid request may still be rightly refused (positive_data_acceptance): each such
refusal is excused only for a reason the schemas cannot state (`unstated_reason`): the
state the request meets (a campaign's status, a reused Idempotency-Key, a workspace's
webhook limit), or a rule that
docs/API.md and the document's descriptions give in words because OpenAPI 3.0 cannot
express it (email and LinkedIn URL syntax, a suppression value's syntax by its kind, where a
webhook URL resolves, custom_fields' keys, depth and size, opaque cursors, lengths counted
after trimming, `page` and `cursor` together). Any other refusal fails the test.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from psycopg2 import sql

from app import create_app
from leads.web.idempotency import HEADER
from leads_contract.values import CAMPAIGN_TRANSITIONS, MAX_WEBHOOKS_PER_WORKSPACE
from tests.contract import APP_TABLES, make_token

CONFIG = schemathesis.Config.from_dict(
    {
        # Every phase, stated rather than left to the defaults.
        "phases": {
            phase: {"enabled": True} for phase in ("examples", "coverage", "fuzzing", "stateful")
        },
        "checks": {
            # DELETE /api/campaigns/{id}/leads removes leads from the roster, not the roster:
            # a GET of the same path afterwards is rightly a 200 with fewer (or no) leads.
            # This check reads any DELETE as removing the resource at its path, and fails
            # whenever a stateful run happens to list after a delete.
            "use_after_free": {"enabled": False},
        },
        # Unknown query parameters are a 400 on purpose; generating them only hides the
        # operation behind that 400.
        "generation": {"mode": "all", "allow-extra-parameters": False},
    }
)
# The document needs no database: an app whose pool never connects serves it.
_document_app = create_app(
    {"database_url": "postgresql://unused@127.0.0.1:9/unused", "rate_limit": None}
)
schema = schemathesis.openapi.from_wsgi("/openapi.json", _document_app, config=CONFIG)

EXAMPLES_PER_OPERATION = 150
STATEFUL_SCENARIOS = 100
STATEFUL_STEPS = 10
FUZZ_SETTINGS = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "database": None,  # nothing written to .hypothesis/ by CI
}

# Which campaign a generated request with a {campaign_id} is aimed at: the generated id
# itself (a random one: 404), or one of the workspace's campaigns in each state.
TARGETS = ("generated", "email draft", "linkedin draft", "active", "paused", "foreign")
# What a stateful scenario starts from: the workspace and its token, nothing else.
WORKSPACE_STATE = [table for table in APP_TABLES if table not in ("workspaces", "api_tokens")]


# Why a schema-valid request was rightly refused (the failures filter_failure drops)

# The statuses a campaign must have for each write that depends on it (docs/API.md: the
# frozen roster, and the transitions), by method and the path's last segment.
NEEDED_STATUS = {
    **{("POST", transition): start for transition, (start, _) in CAMPAIGN_TRANSITIONS.items()},
    **{(method, "leads"): ("draft",) for method in ("POST", "PATCH", "DELETE")},
}
# Fields whose syntax the schemas cannot state, so that docs/API.md and the document's
# descriptions give it in words.
RULES_IN_WORDS = {
    "email": "email syntax",
    "linkedin_url": "LinkedIn profile URL syntax",
    "value": "a suppression entry's value, by its kind",
    "url": "a webhook URL's syntax and where its host resolves",
    "custom_fields": "custom_fields' keys, depth and size",
    "cursor": "an opaque cursor",
    "after": "an opaque cursor",
}
# A trimmed string's length counts no surrounding white space, which maxLength cannot say.
TRIMMED_LENGTH = re.compile(r"Longer than maximum length \d+\.")
# OpenAPI 3.0 parameters cannot exclude each other.
PAGE_OR_CURSOR = "Send either page or cursor, not both."


class Refusals:
    """Where unstated_reason reads the state a refused request met: a connection to the
    test database, set for each test (refusals_read_from)."""

    db = None


def unstated_reason(case, response) -> str | None:
    """Why the service rightly refused this request, when the reason is one the schemas
    cannot state; None otherwise. A refusal writes nothing, so what the database holds
    now is what the request met."""
    if response.status_code == 422:
        key = (case.headers or {}).get(HEADER)
        return "a reused Idempotency-Key" if key and _key_recorded(key) else None
    if response.status_code != 400:
        return None
    errors = response.json().get("errors")
    if errors is None:  # a refusal of the request as a whole
        return _state_met(case)
    reasons = {_rule_in_words(path, message) for path, message in _leaves(errors)}
    return None if None in reasons else ", ".join(sorted(reasons))


def _state_met(case) -> str | None:
    """The state that rightly refused a request as a whole, if it did."""
    method = case.method.upper()
    needed = NEEDED_STATUS.get((method, case.path.rsplit("/", 1)[-1]))
    if needed is not None:
        status = _campaign_status(case.path_parameters["campaign_id"])
        return None if status is None or status in needed else f"a campaign that is {status}"
    if (method, case.path) == ("POST", "/api/webhooks"):
        with Refusals.db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM webhook_endpoints")
            if cursor.fetchone()[0] >= MAX_WEBHOOKS_PER_WORKSPACE:
                return "a workspace with all the webhooks it may have"
    return None


def _rule_in_words(path: tuple[str, ...], message: str) -> str | None:
    for key in path:
        if key in RULES_IN_WORDS:
            return RULES_IN_WORDS[key]
    if TRIMMED_LENGTH.fullmatch(message):
        return "a length counted after trimming"
    if path == ("query", "_schema") and message == PAGE_OR_CURSOR:
        return "page and cursor together"
    return None


def _leaves(errors, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Each message of a validation error body, with its place (location, keys, indexes)."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield from _leaves(value, (*path, str(key)))
    else:
        for message in errors:
            yield path, message


def _campaign_status(campaign_id: str) -> str | None:
    with Refusals.db.cursor() as cursor:
        cursor.execute("SELECT status::text FROM campaigns WHERE id::text = %s", (campaign_id,))
        row = cursor.fetchone()
    return None if row is None else row[0]


def _key_recorded(key: str) -> bool:
    with Refusals.db.cursor() as cursor:
        cursor.execute("SELECT 1 FROM idempotency_keys WHERE idempotency_key = %s", (key,))
        return cursor.fetchone() is not None


@schema.hook
def filter_failure(context, failure, case, response) -> bool:
    """Drop positive_data_acceptance's failure on a refusal for an unstated reason."""
    return (
        "positive_data_acceptance" not in failure.checks or unstated_reason(case, response) is None
    )


@pytest.fixture(autouse=True)
def refusals_read_from(db) -> Iterator[None]:
    Refusals.db = db
    yield
    Refusals.db = None


# The tests


def prepare_campaigns(app, token: str) -> dict[str, str]:
    """Campaigns of the token's workspace in each state (with a few leads), and one of
    another workspace; returns their ids by target name."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def create(name: str, type_: str, owner_headers: dict) -> str:
        response = client.post(
            "/api/campaigns", json={"name": name, "type": type_}, headers=owner_headers
        )
        assert response.status_code == 201, response.json
        return response.json["campaign"]["id"]

    ids = {
        "email draft": create("Email draft", "email", headers),
        "linkedin draft": create("LinkedIn draft", "linkedin", headers),
        "active": create("Active", "email", headers),
        "paused": create("Paused", "email", headers),
    }
    rows = [{"email": f"person{n}@example.com", "first_name": f"P{n}"} for n in range(3)]
    for target in ("email draft", "active", "paused"):
        response = client.post(
            f"/api/campaigns/{ids[target]}/leads", json={"prospects": rows}, headers=headers
        )
        assert response.status_code == 200, response.json
    for target, transitions in (("active", ["launch"]), ("paused", ["launch", "pause"])):
        for transition in transitions:
            response = client.post(f"/api/campaigns/{ids[target]}/{transition}", headers=headers)
            assert response.status_code == 200, response.json
    foreign_headers = {"Authorization": f"Bearer {make_token(app.extensions['leads_pool'], 'x')}"}
    ids["foreign"] = create("Foreign", "email", foreign_headers)
    return ids


@pytest.fixture
def campaigns(app, token) -> dict[str, str]:
    """Set up once per operation; its examples share (and change) them."""
    return prepare_campaigns(app, token)


def aim(case, campaigns: dict[str, str]) -> None:
    """Aim a request with a {campaign_id} at one of TARGETS, picked by the request's own
    text: the same case always meets the same campaign (as hypothesis needs when it runs a
    case again), and the coverage phase's cases, which share one generated id, spread."""
    if "campaign_id" in (case.path_parameters or {}):
        target = TARGETS[zlib.crc32(case.as_curl_command().encode()) % len(TARGETS)]
        if target != "generated":
            case.path_parameters["campaign_id"] = campaigns[target]


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, **FUZZ_SETTINGS)
def test_every_operation_keeps_its_contract(case, app, token, campaigns):
    aim(case, campaigns)
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}"})


def test_stateful_workflows_keep_the_contract(app, token, db):
    """Chains of calls along the document's links (create a campaign or a webhook, then use
    its id) and those schemathesis infers, so that writes reach real campaigns in every
    status."""
    headers = {"Authorization": f"Bearer {token}"}
    # Successes of operations that take a campaign's id: only a campaign that exists (one a
    # scenario created, its id carried by a link) answers one.
    reached: Counter[str] = Counter()

    class Workflow(schema.as_state_machine()):
        def setup(self):
            # Each scenario starts from the same state, so that hypothesis, running a
            # scenario again, gets the same answers: the values links carry (ids listed by
            # the change feed or the suppression list, say) decide what it draws next.
            with db.cursor() as cursor:
                cursor.execute(
                    sql.SQL("TRUNCATE {} CASCADE").format(
                        sql.SQL(", ").join(map(sql.Identifier, WORKSPACE_STATE))
                    )
                )

        def get_call_kwargs(self, case):
            return {"app": app, "headers": headers}

        def after_call(self, response, case):
            if "campaign_id" in (case.path_parameters or {}) and response.status_code < 300:
                reached[case.operation.label] += 1

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # Tell the checks which headers the test sent, as call_and_validate does: the
            # token is then known to be a valid one (ignored_auth probes without it).
            case.validate_response(
                response,
                additional_checks=additional_checks,
                headers=headers,
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS, **FUZZ_SETTINGS
        )
    )
    assert reached, "no step reached a campaign that exists"


def test_prepared_campaigns_are_in_every_state(campaigns, db):
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT campaigns.id::text, campaigns.status::text, workspaces.name FROM campaigns "
            "JOIN workspaces ON workspaces.id = campaigns.workspace_id"
        )
        rows = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    assert rows == {
        campaigns["email draft"]: ("draft", "acme"),
        campaigns["linkedin draft"]: ("draft", "acme"),
        campaigns["active"]: ("active", "acme"),
        campaigns["paused"]: ("paused", "acme"),
        campaigns["foreign"]: ("draft", "x"),
    }
