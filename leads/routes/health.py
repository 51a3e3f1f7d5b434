"""/healthz (the process is alive) and /readyz (the database answers); no token needed."""

from __future__ import annotations

from flask.views import MethodView

from leads.db.pool import current_pool, transaction
from leads.web.api import Blueprint

blp = Blueprint("health", __name__, description="Liveness and readiness probes.")


@blp.route("/healthz")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    def get(self):
        """The process is alive (never touches the database)."""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):
        """The database answers a query."""
        with transaction(current_pool(), read_only=True) as tx:
            tx.execute("ping")
        return {"status": "ready"}
