-- The change feed: every change of a roster, a campaign or the suppression list is an event,
-- written in the transaction of the change (record_event.sql), at a position of its
-- workspace's feed that follows commit order.
-- depends: 0002_workspace

-- Per workspace: the last position given to an event, and the last one purged (a cursor
-- before it has lost events: 410).
CREATE TABLE event_positions (
    workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    last_position   bigint NOT NULL DEFAULT 0,
    purged_through  bigint NOT NULL DEFAULT 0,
    CONSTRAINT event_positions_pkey PRIMARY KEY (workspace_id)
);

CREATE TABLE events (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- 1, 2, 3 ... in the order the events' transactions committed, without gaps.
    position      bigint NOT NULL,
    id            uuid NOT NULL,
    type          text NOT NULL,
    -- No foreign key: an event names a campaign by id only, and stays as it was written.
    campaign_id   uuid,
    -- json, not jsonb: the keys stay in the order they were written.
    data          json NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_pkey PRIMARY KEY (workspace_id, position),
    CONSTRAINT events_id_key UNIQUE (workspace_id, id)
);

-- The purge of events past their retention finds them by age, whatever the workspace.
CREATE INDEX events_occurred_idx ON events (occurred_at);
