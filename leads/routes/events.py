"""/api/events: the workspace's change feed."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from leads.db.pool import current_pool
from leads.domain import events
from leads.web.api import Blueprint, protect
from leads.web.auth import current_workspace_id
from leads.web.documented_errors import documents_errors
from schemas.events import EventPageSchema, EventsQuerySchema

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/api/events",
    description="The change feed: every change of a roster, a campaign or the suppression "
    "list, in commit order.",
)
protect(blp)


@blp.route("")
class Events(MethodView):
    @blp.arguments(EventsQuerySchema, location="query", unknown="raise")
    @blp.response(200, EventPageSchema)
    @documents_errors(blp, 410)
    def get(self, query):
        """Read the feed after a cursor, oldest first (optionally of one `type`).

        Poll with each answer's `next_cursor` as `after`: that yields every event exactly
        once, in the order the changes committed, however many writers commit at once. A
        cursor older than the events kept (`LEADS_EVENTS_RETENTION` days) is 410.
        """
        settings = current_app.config["LEADS_SETTINGS"]
        return events.read_feed(
            current_pool(),
            current_workspace_id(),
            after=query.get("after"),
            limit=query["limit"],
            event_type=query.get("type"),
            retention_days=settings.events_retention_days,
        )
