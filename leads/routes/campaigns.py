"""/api/campaigns: create, list, show, and the launch/pause/resume/complete transitions."""

from __future__ import annotations

from flask.views import MethodView

from leads.db.pool import current_pool
from leads.domain import campaigns
from leads.web.api import Blueprint, protect
from leads.web.auth import current_workspace_id
from leads.web.documented_errors import documents_errors, idempotent_write
from leads.web.documented_links import documents_created_id
from leads_contract.values import CAMPAIGN_TRANSITIONS
from schemas.campaigns import (
    CampaignCreateSchema,
    CampaignDetailSchema,
    CampaignEnvelopeSchema,
    CampaignListSchema,
)

blp = Blueprint("campaigns", __name__, url_prefix="/api/campaigns", description="Campaigns.")
protect(blp)

CAMPAIGN_PATH = "/api/campaigns/{campaign_id}"
# Every operation that takes a campaign's id, by link name (tests/test_openapi_document.py
# checks that none is left out).
CAMPAIGN_ID_TARGETS = {
    "GetCampaign": ("get", CAMPAIGN_PATH, "Show the campaign."),
    **{
        f"{transition.capitalize()}Campaign": (
            "post",
            f"{CAMPAIGN_PATH}/{transition}",
            f"{transition.capitalize()} the campaign.",
        )
        for transition in CAMPAIGN_TRANSITIONS
    },
    "ListLeads": ("get", f"{CAMPAIGN_PATH}/leads", "List its leads."),
    "AddLeads": ("post", f"{CAMPAIGN_PATH}/leads", "Add leads to it."),
    "UpdateLead": ("patch", f"{CAMPAIGN_PATH}/leads", "Edit one of its leads."),
    "RemoveLeads": ("delete", f"{CAMPAIGN_PATH}/leads", "Remove leads from it."),
}


@blp.route("")
class Campaigns(MethodView):
    @blp.response(200, CampaignListSchema)
    @documents_errors(blp)
    def get(self):
        """List the workspace's campaigns, oldest first."""
        return {"campaigns": campaigns.list_campaigns(current_pool(), current_workspace_id())}

    @idempotent_write(blp)
    @blp.arguments(CampaignCreateSchema)
    @blp.response(201, CampaignEnvelopeSchema)
    @documents_created_id(blp, "campaign", CAMPAIGN_ID_TARGETS)
    @documents_errors(blp, 409, 413, 415)
    def post(self, body):
        """Create a draft campaign. Names are unique per workspace (409)."""
        campaign = campaigns.create_campaign(
            current_pool(), current_workspace_id(), body["name"], body["type"]
        )
        return {"campaign": campaign}


@blp.route("/<campaign_id>")
class Campaign(MethodView):
    @blp.response(200, CampaignDetailSchema)
    @documents_errors(blp, 404)
    def get(self, campaign_id):
        """Show a campaign with its lead counts per status."""
        return campaigns.get_campaign(
            current_pool(), current_workspace_id(), campaigns.parse_campaign_id(campaign_id)
        )


def _transition_view(transition: str):
    allowed_from, target = CAMPAIGN_TRANSITIONS[transition]

    def view(campaign_id):
        campaign = campaigns.transition_campaign(
            current_pool(),
            current_workspace_id(),
            campaigns.parse_campaign_id(campaign_id),
            transition,
        )
        return {"campaign": campaign}

    view.__name__ = f"{transition}_campaign"
    view.__doc__ = (
        f"{transition.capitalize()} a campaign ({' or '.join(allowed_from)} → {target}).\n\n"
        "A transition from any other status is a 400 naming the current status."
    )
    return view


for _transition in CAMPAIGN_TRANSITIONS:
    blp.route(f"/<campaign_id>/{_transition}", methods=["POST"])(
        idempotent_write(blp)(
            blp.response(200, CampaignEnvelopeSchema)(
                documents_errors(blp, 400, 404, 415)(_transition_view(_transition))
            )
        )
    )
