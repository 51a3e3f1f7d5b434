-- Responses of writes sent with an Idempotency-Key, recorded in the transaction of the
-- write itself, so that a retry replays the response instead of writing again.
CREATE TABLE idempotency_keys (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    idempotency_key  text NOT NULL,
    -- SHA-256 of method, path, query and body: the same key with another request is refused.
    request_hash     bytea NOT NULL,
    response_status  smallint NOT NULL,
    -- The exact response bytes (jsonb would reorder the keys).
    response_body    bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, idempotency_key)
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
