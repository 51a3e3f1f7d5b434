"""Contract fuzzing: schemathesis drives every operation of the live /openapi.json with a
valid token and checks each answer: no 5xx, every status documented, every body and
required header as documented, schema-invalid input refused.

Not checked: that a resource is gone after a DELETE (use_after_free: a DELETE of .../leads
removes leads from the roster; the roster stays and still lists, 200), and that every
schema-valid request is accepted (positive_data_acceptance). Which requests succeed depends
on what OpenAPI cannot state: the campaign's type and status, the roster, email and LinkedIn
URL syntax, "exactly one of prospect_ids and all", unknown query parameters (a 400 here, on
purpose).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from app import create_app
from tests.contract import make_token

CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"enabled": False},
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


@schema.parametrize()
@schema.given(target=st.sampled_from(TARGETS))
@settings(max_examples=EXAMPLES_PER_OPERATION, **FUZZ_SETTINGS)
def test_every_operation_keeps_its_contract(case, target, app, token, campaigns):
    if "campaign_id" in (case.path_parameters or {}) and target != "generated":
        case.path_parameters["campaign_id"] = campaigns[target]
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}"})


def test_stateful_workflows_keep_the_contract(app, token, db):
    """Chains of calls along the links schemathesis infers (create a campaign, then use its
    id), so that writes reach real campaigns in every status."""
    headers = {"Authorization": f"Bearer {token}"}

    class Workflow(schema.as_state_machine()):
        def setup(self):
            # Each scenario starts from an empty workspace, so that hypothesis, replaying a
            # scenario, gets the same answers (a second "create X" would be a 409).
            with db.cursor() as cursor:
                cursor.execute("TRUNCATE campaigns, idempotency_keys CASCADE")

        def get_call_kwargs(self, case):
            return {"app": app, "headers": headers}

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
