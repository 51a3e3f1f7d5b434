"""The committed openapi.json is the document the service serves, as `make openapi` writes it:
keys sorted, indented by two spaces, non-ASCII text as is, a newline at the end."""

from __future__ import annotations

import json
from pathlib import Path

COMMITTED = Path(__file__).resolve().parent.parent / "openapi.json"
OUT_OF_DATE = (
    "openapi.json is not the document the service serves at /openapi.json: "
    "run `make openapi` and commit openapi.json"
)


def test_the_committed_document_is_the_served_one(app):
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    served = json.dumps(response.get_json(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    assert committed == served, OUT_OF_DATE


def _link(operation: str, description: str, **fields) -> dict:
    method, path = operation.split(" ")
    ref = "#/paths/" + path.replace("/", "~1") + "/" + method.lower()
    return {"operationRef": ref, "description": description, **fields}


CREATED_CAMPAIGN = {"parameters": {"path.campaign_id": "$response.body#/campaign/id"}}
SAME_CAMPAIGN = {"parameters": {"path.campaign_id": "$request.path.campaign_id"}}
FIRST_ROW = "$response.body#/results/0/id"


class TestLinks:
    """Each write that creates an id links to every operation that takes it, so that tools
    (schemathesis's stateful phase, clients) can chain them."""

    def links(self, app, method: str, path: str, status: str) -> dict:
        document = app.test_client().get("/openapi.json").get_json()
        return document["paths"][path][method]["responses"][status]["links"]

    def test_a_created_campaign_links_to_every_operation_on_it(self, app):
        campaign = "/api/campaigns/{campaign_id}"
        assert self.links(app, "post", "/api/campaigns", "201") == {
            "GetCampaign": _link(f"GET {campaign}", "Show the campaign.", **CREATED_CAMPAIGN),
            "LaunchCampaign": _link(
                f"POST {campaign}/launch", "Launch the campaign.", **CREATED_CAMPAIGN
            ),
            "PauseCampaign": _link(
                f"POST {campaign}/pause", "Pause the campaign.", **CREATED_CAMPAIGN
            ),
            "ResumeCampaign": _link(
                f"POST {campaign}/resume", "Resume the campaign.", **CREATED_CAMPAIGN
            ),
            "CompleteCampaign": _link(
                f"POST {campaign}/complete", "Complete the campaign.", **CREATED_CAMPAIGN
            ),
            "ListLeads": _link(f"GET {campaign}/leads", "List its leads.", **CREATED_CAMPAIGN),
            "AddLeads": _link(f"POST {campaign}/leads", "Add leads to it.", **CREATED_CAMPAIGN),
            "UpdateLead": _link(
                f"PATCH {campaign}/leads", "Edit one of its leads.", **CREATED_CAMPAIGN
            ),
            "RemoveLeads": _link(
                f"DELETE {campaign}/leads", "Remove its leads.", **CREATED_CAMPAIGN
            ),
        }

    def test_added_leads_link_to_their_update_and_removal(self, app):
        leads = "/api/campaigns/{campaign_id}/leads"
        assert self.links(app, "post", leads, "200") == {
            "UpdateLead": _link(
                f"PATCH {leads}",
                "Edit the first row's lead.",
                requestBody={"prospect_id": FIRST_ROW},
                **SAME_CAMPAIGN,
            ),
            "RemoveLeads": _link(
                f"DELETE {leads}",
                "Remove the first row's lead.",
                requestBody={"prospect_ids": [FIRST_ROW]},
                **SAME_CAMPAIGN,
            ),
        }

    def test_added_suppressions_link_to_their_removal(self, app):
        assert self.links(app, "post", "/api/suppressions", "200") == {
            "RemoveSuppressions": _link(
                "DELETE /api/suppressions",
                "Remove the first entry (the one added, or the one it duplicates).",
                requestBody={"ids": [FIRST_ROW]},
            ),
        }
