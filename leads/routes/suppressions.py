"""/api/suppressions: the workspace's do-not-contact list (add, list, remove, check)."""

from __future__ import annotations

from flask.views import MethodView

from leads.db.pool import current_pool
from leads.domain import suppressions
from leads.web.api import Blueprint, protect
from leads.web.auth import current_workspace_id
from leads.web.documented_errors import documents_errors, idempotent_write
from schemas.suppressions import (
    SuppressionPageSchema,
    SuppressionsAddedSchema,
    SuppressionsAddSchema,
    SuppressionsCheckedSchema,
    SuppressionsCheckSchema,
    SuppressionsDeletedSchema,
    SuppressionsDeleteSchema,
    SuppressionsListQuerySchema,
)

blp = Blueprint(
    "suppressions",
    __name__,
    url_prefix="/api/suppressions",
    description="The workspace's suppression list: identities no campaign may hold.",
)
protect(blp)


@blp.route("")
class Suppressions(MethodView):
    @blp.arguments(SuppressionsListQuerySchema, location="query", unknown="raise")
    @blp.response(200, SuppressionPageSchema)
    @documents_errors(blp)
    def get(self, query):
        """List entries, oldest first (ties by id), optionally of one `kind` and with `q` in
        their value. Page with `cursor`: pass the previous page's `next_cursor`."""
        return suppressions.list_suppressions(
            current_pool(),
            current_workspace_id(),
            kind=query.get("kind"),
            q=query.get("q"),
            limit=query["limit"],
            cursor=query.get("cursor"),
        )

    @idempotent_write(blp)
    @blp.arguments(SuppressionsAddSchema)
    @blp.response(200, SuppressionsAddedSchema)
    @documents_errors(blp, 413, 415)
    def post(self, body):
        """Add 1 to 1000 entries (`email`, `domain` or `linkedin_url`), normalized as lead
        identities are and deduplicated within the request and against the list.

        From then on a lead add skips a row that an entry matches (outcome `suppressed`),
        and an update to such an identity is a 409. An invalid entry rejects the request
        (400 naming every offending index). With `remove_from_drafts`, the leads the entries
        match leave every draft roster of the workspace in the same transaction.
        """
        return suppressions.add_suppressions(
            current_pool(),
            current_workspace_id(),
            body["entries"],
            remove_from_drafts=body["remove_from_drafts"],
        )

    @idempotent_write(blp)
    @blp.arguments(SuppressionsDeleteSchema)
    @blp.response(200, SuppressionsDeletedSchema)
    @documents_errors(blp, 413, 415)
    def delete(self, body):
        """Remove 1 to 500 entries by id; ids that are no entry of the workspace are
        skipped. Leads removed because of an entry are not restored."""
        return suppressions.delete_suppressions(current_pool(), current_workspace_id(), body["ids"])


@blp.route("/check", methods=["POST"])
@blp.arguments(SuppressionsCheckSchema)
@blp.response(200, SuppressionsCheckedSchema)
@documents_errors(blp, 413, 415)
def check_suppressions(body):
    """Check 1 to 1000 identities (each `{"email": ...}` or `{"linkedin_url": ...}`)
    against the list: what a sending system calls before each send. Reads only."""
    return suppressions.check_identities(current_pool(), current_workspace_id(), body["identities"])
