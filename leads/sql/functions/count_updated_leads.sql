-- Moves the leads an UPDATE changed the status of between their rows of
-- campaign_lead_counts, once per statement (see count_inserted_leads.sql).
CREATE OR REPLACE FUNCTION count_updated_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Lock the counts this statement moves in one order first: the statement below cannot
    -- take its locks in a chosen order, and concurrent status changes of one campaign must
    -- queue up rather than deadlock.
    PERFORM 1
    FROM campaign_lead_counts AS counts
    WHERE (counts.campaign_id, counts.status) IN (
        SELECT campaign_id, status FROM old_leads
        UNION
        SELECT campaign_id, status FROM new_leads
    )
    ORDER BY counts.campaign_id, counts.status
    FOR UPDATE;

    -- The moves, summed per count, in one statement. Moves out of a status go through a
    -- plain UPDATE (those leads were counted, so their row exists). They cannot go through
    -- the upsert: INSERT checks lead_count >= 0 on the proposed row before ON CONFLICT
    -- turns it into an update. The two touch different rows of the counts.
    WITH moves AS (
        SELECT campaign_id, status, sum(delta) AS delta
        FROM (
            SELECT campaign_id, status, 1 AS delta FROM new_leads
            UNION ALL
            SELECT campaign_id, status, -1 AS delta FROM old_leads
        ) AS changes
        GROUP BY campaign_id, status
    ),
    moved_out AS (
        UPDATE campaign_lead_counts AS counts
        SET lead_count = counts.lead_count + moves.delta
        FROM moves
        WHERE moves.delta < 0
          AND counts.campaign_id = moves.campaign_id AND counts.status = moves.status
    )
    INSERT INTO campaign_lead_counts AS counts (campaign_id, status, lead_count)
    SELECT campaign_id, status, delta
    FROM moves
    WHERE delta > 0
    ORDER BY campaign_id, status
    ON CONFLICT (campaign_id, status)
    DO UPDATE SET lead_count = counts.lead_count + EXCLUDED.lead_count;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER leads_count_updated AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_leads NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_updated_leads();
