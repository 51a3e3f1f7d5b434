"""/api/campaigns/{id}/leads: the roster of one campaign (list, add, update, remove)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g
from flask.views import MethodView

from leads.db.pool import current_pool
from leads.domain import roster
from leads.domain.campaigns import parse_campaign_id
from leads.web.api import Blueprint, protect
from leads.web.auth import current_workspace_id
from leads.web.documented_errors import documents_errors, idempotent_write
from leads.web.json_bodies import json_response, outcome_response
from leads.web.metrics import note_added_leads
from schemas.leads import (
    LEAD_UPDATE_SCHEMAS,
    LEADS_ADD_SCHEMAS,
    LeadPageSchema,
    LeadsAddedSchema,
    LeadsAddQuerySchema,
    LeadsDeletedSchema,
    LeadsDeleteSchema,
    LeadsListQuerySchema,
    LeadUpdatedSchema,
)

blp = Blueprint(
    "leads",
    __name__,
    url_prefix="/api/campaigns",
    description="The lead roster of a campaign. Writes need a draft campaign.",
)
protect(blp)


def validated_for_campaign_type(view: Callable) -> Callable:
    """Look the campaign up before the body is parsed, so that the body is parsed with the
    schema of the campaign's type (see _campaign_type): each lead's identity is checked in
    the same pass as every other field (one 400 names every offending row), and an unknown
    campaign is a 404 before any 400."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        campaign_id = parse_campaign_id(kwargs["campaign_id"])
        g.campaign_type = roster.campaign_type(current_pool(), current_workspace_id(), campaign_id)
        return view(*args, **kwargs)

    return wrapper


def _campaign_type() -> str:
    """The type of the request's campaign, which names the schema of its body."""
    return g.campaign_type


@blp.route("/<campaign_id>/leads")
class CampaignLeads(MethodView):
    @blp.arguments(LeadsListQuerySchema, location="query", unknown="raise")
    @blp.response(200, LeadPageSchema)
    @documents_errors(blp, 404)
    def get(self, query, campaign_id):
        """List leads, oldest first (ties by id), optionally of one status. Safe to poll.

        Page by `page` (OFFSET: deep pages cost a scan of the rows before them) or by
        `cursor` (keyset: pass the previous page's `next_cursor`; constant cost at any
        depth, and no lead skipped or repeated when leads are added meanwhile).
        """
        page = roster.list_leads(
            current_pool(),
            current_workspace_id(),
            parse_campaign_id(campaign_id),
            page=query["page"],
            limit=query["limit"],
            status=query.get("status"),
            cursor=query.get("cursor"),
        )
        return json_response(page)

    @idempotent_write(blp)
    @validated_for_campaign_type
    @blp.arguments_chosen_per_request(
        LEADS_ADD_SCHEMAS,
        _campaign_type,
        description="The leads, each with the identity of the campaign's type: "
        "`EmailLeadsAdd` for an email campaign, `LinkedinLeadsAdd` for a LinkedIn campaign.",
    )
    @blp.arguments(LeadsAddQuerySchema, location="query", unknown="raise")
    @blp.response(200, LeadsAddedSchema)
    @documents_errors(blp, 404, 413, 415)
    def post(self, body, query, campaign_id):
        """Add 1 to 1000 leads, deduplicated by the campaign's identity.

        Email campaigns require `email`, LinkedIn campaigns `linkedin_url`; a row without a
        valid identity rejects the whole request (400 naming every offending index). A row
        whose email or LinkedIn URL the workspace's suppression list matches is not added
        (`suppressed`). Dedup is within the batch (first occurrence wins), against the
        roster (the existing lead wins, unchanged) and, with `?dedupe=workspace` or `live`,
        against the workspace's other campaigns. `?dry_run=true` reports the same outcome
        and writes nothing.
        """
        outcome = roster.add_leads(
            current_pool(),
            current_workspace_id(),
            parse_campaign_id(campaign_id),
            g.campaign_type,  # what the rows were validated against
            body["prospects"],
            dedupe=query["dedupe"],
            dry_run=query["dry_run"],
        )
        note_added_leads(outcome)
        return outcome_response(outcome)

    @idempotent_write(blp)
    @validated_for_campaign_type
    @blp.arguments_chosen_per_request(
        LEAD_UPDATE_SCHEMAS,
        _campaign_type,
        description="The lead and its changes; the identity of the campaign's type cannot "
        "be cleared: `EmailLeadUpdate` for an email campaign, `LinkedinLeadUpdate` for a "
        "LinkedIn campaign.",
    )
    @blp.response(200, LeadUpdatedSchema)
    @documents_errors(blp, 404, 409, 413, 415)
    def patch(self, body, campaign_id):
        """Edit one lead's profile fields; identities are re-normalized.

        `custom_fields` replaces the whole object; null or blank clears a field; the
        campaign's identity cannot be cleared; an identity another lead holds is a 409, and
        so is a new email or LinkedIn URL that the suppression list matches.
        """
        lead = roster.update_lead(
            current_pool(),
            current_workspace_id(),
            parse_campaign_id(campaign_id),
            body["prospect_id"],
            body["updates"],
        )
        return json_response({"prospect": lead})

    @idempotent_write(blp)
    @blp.arguments(LeadsDeleteSchema)
    @blp.response(200, LeadsDeletedSchema)
    @documents_errors(blp, 404, 413, 415)
    def delete(self, body, campaign_id):
        """Remove leads by id (1 to 500; ids not in the campaign are skipped) or all of them
        with `{"all": true}`. Exactly one of the two."""
        outcome = roster.delete_leads(
            current_pool(),
            current_workspace_id(),
            parse_campaign_id(campaign_id),
            body.get("prospect_ids"),
        )
        return outcome_response(outcome)
