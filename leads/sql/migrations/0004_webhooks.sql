-- Webhooks: endpoints that receive the workspace's events, signed as the Standard Webhooks
-- specification says, and one delivery per event and endpoint, which the worker
-- (`flask --app app webhooks worker`) creates from the change feed and attempts.
-- depends: 0003_events

CREATE TABLE webhook_endpoints (
    workspace_id           uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                     uuid NOT NULL,
    url                    text NOT NULL,
    description            text,
    -- The event types delivered, or {*} for every type.
    event_types            text[] NOT NULL,
    enabled                boolean NOT NULL DEFAULT true,
    -- The signing key, the bytes of whsec_<base64>: kept as is, since signing needs it.
    secret                 bytea NOT NULL,
    -- After a rotation the previous key signs too, until previous_secret_until.
    previous_secret        bytea,
    previous_secret_until  timestamptz,
    -- The position of the workspace's feed up to which the events became deliveries.
    fanned_out_through     bigint NOT NULL,
    -- The first failed attempt since the last successful one (null while attempts succeed).
    failing_since          timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (workspace_id, id)
);

CREATE TYPE webhook_delivery_state AS ENUM ('pending', 'delivered', 'failed');

CREATE TABLE webhook_deliveries (
    workspace_id      uuid NOT NULL,
    id                uuid NOT NULL,
    endpoint_id       uuid NOT NULL,
    -- The event, by its position in the workspace's feed.
    event_position    bigint NOT NULL,
    state             webhook_delivery_state NOT NULL DEFAULT 'pending',
    attempts          integer NOT NULL DEFAULT 0,
    last_status_code  smallint,
    last_error        text,
    last_attempt_at   timestamptz,
    -- When the worker attempts it next: null once delivered or failed, and while the
    -- endpoint is disabled.
    next_attempt_at   timestamptz,
    -- An attempt that fails when the next would come after this time fails the delivery.
    retry_until       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (workspace_id, id),
    -- One delivery per event and endpoint; it also orders an endpoint's listing.
    CONSTRAINT webhook_deliveries_event_key UNIQUE (workspace_id, endpoint_id, event_position),
    CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (workspace_id, endpoint_id)
        REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE,
    -- A delivery lives as long as its event: `events purge` takes both.
    CONSTRAINT webhook_deliveries_event_fkey FOREIGN KEY (workspace_id, event_position)
        REFERENCES events (workspace_id, position) ON DELETE CASCADE
);

-- The purge of events finds their deliveries.
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (workspace_id, event_position);
-- The workers' queue: the deliveries due first, whatever the workspace.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
