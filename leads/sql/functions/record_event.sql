-- The change feed's one writer: record an event of the workspace in the caller's
-- transaction, at the next position of the workspace's feed. Call it last in a write, after
-- every other lock it takes.
--
-- The visibility rule: positions are handed out under the row lock of the workspace's
-- event_positions row, which the transaction holds until it ends. PostgreSQL marks a
-- transaction committed (visible to new snapshots) before it releases its locks, so the
-- writer that takes position n + 1 waits until the one holding n has committed (or rolled
-- back, giving n back). Hence positions follow commit order without gaps, and a reader that
-- sees position n sees every position before it: a poller that goes on after the last
-- position it read never skips an event. (A sequence would not do: a transaction that took
-- 10 could commit after another's 11 had been read.) The price: the tails of a workspace's
-- writes, from their event to their commit, run one at a time.
CREATE OR REPLACE FUNCTION record_event(
    p_workspace_id uuid,
    p_type text,
    p_campaign_id uuid,
    p_data json
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    given bigint;
BEGIN
    INSERT INTO event_positions AS positions (workspace_id, last_position)
    VALUES (p_workspace_id, 1)
    ON CONFLICT (workspace_id)
    DO UPDATE SET last_position = positions.last_position + 1
    RETURNING positions.last_position INTO given;
    INSERT INTO events (workspace_id, position, id, type, campaign_id, data)
    VALUES (p_workspace_id, given, gen_random_uuid(), p_type, p_campaign_id, p_data);
    RETURN given;
END;
$$;
