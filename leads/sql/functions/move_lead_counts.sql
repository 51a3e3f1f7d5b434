-- The one place where campaign_lead_counts changes: each move adds its delta to the count
-- of its campaign and status. The statement-level triggers of leads
-- (count_added_or_removed_leads, count_updated_leads) only say which moves their statement
-- made, so the cost of exact stats grows with the rows a statement touches, never with the
-- roster.
CREATE OR REPLACE FUNCTION move_lead_counts(p_moves lead_count_move[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Lock the counts this statement moves in one order first: the statements below cannot
    -- take their locks in a chosen order, and concurrent writes to one campaign must queue
    -- up rather than deadlock.
    PERFORM 1
    FROM campaign_lead_counts AS counts
    WHERE (counts.workspace_id, counts.campaign_id, counts.status) IN (
        SELECT moves.workspace_id, moves.campaign_id, moves.status
        FROM unnest(p_moves) AS moves
        WHERE moves.delta <> 0
    )
    ORDER BY counts.workspace_id, counts.campaign_id, counts.status
    FOR UPDATE;

    -- Moves out of a count go through a plain UPDATE (those leads were counted, so their
    -- row exists). They cannot go through the upsert: INSERT checks lead_count >= 0 on the
    -- proposed row before ON CONFLICT turns it into an update.
    UPDATE campaign_lead_counts AS counts
    SET lead_count = counts.lead_count + moves.delta
    FROM unnest(p_moves) AS moves
    WHERE moves.delta < 0
      AND counts.workspace_id = moves.workspace_id
      AND counts.campaign_id = moves.campaign_id AND counts.status = moves.status;

    INSERT INTO campaign_lead_counts AS counts (workspace_id, campaign_id, status, lead_count)
    SELECT moves.workspace_id, moves.campaign_id, moves.status, moves.delta
    FROM unnest(p_moves) AS moves
    WHERE moves.delta > 0
    ORDER BY moves.workspace_id, moves.campaign_id, moves.status
    ON CONFLICT (workspace_id, campaign_id, status)
    DO UPDATE SET lead_count = counts.lead_count + EXCLUDED.lead_count;
END;
$$;
