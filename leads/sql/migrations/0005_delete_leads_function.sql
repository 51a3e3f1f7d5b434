-- A DELETE of leads (by ids, or all of a campaign's) in one statement: the campaign locked
-- through the token, the draft check, the delete and the stats, where the route sent four
-- messages (lock, delete, stats, COMMIT) and the hand-written delete two (delete, COMMIT).
-- The caller's transaction still commits it: BEGIN travels with this statement, COMMIT
-- follows (docs/PERFORMANCE.md).
--
-- No row when the token is unknown or revoked or the campaign is not in its workspace.
-- A campaign that is not a draft: its status, and nothing deleted (deleted and stats are
-- null; the caller answers 400: the roster is frozen). Else the leads of p_lead_ids in the
-- campaign (every lead when p_lead_ids is null) are deleted: their number and the
-- campaign's stats after it.
CREATE FUNCTION delete_campaign_leads(
    p_token_hash bytea,
    p_campaign_id uuid,
    p_lead_ids uuid[]
) RETURNS TABLE (
    workspace_id uuid, campaign_status campaign_status, deleted bigint, stats jsonb
)
LANGUAGE plpgsql AS $$
BEGIN
    -- Every write locks its campaign row first (see lock_campaign in queries.sql).
    SELECT campaigns.workspace_id, campaigns.status INTO workspace_id, campaign_status
    FROM campaigns
    JOIN api_tokens ON api_tokens.workspace_id = campaigns.workspace_id
    WHERE campaigns.id = p_campaign_id
      AND api_tokens.token_hash = p_token_hash AND api_tokens.revoked_at IS NULL
    FOR UPDATE OF campaigns;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF campaign_status = 'draft' THEN
        -- A statement each: a plan kept for the session must not depend on which of the
        -- two its first calls asked for.
        IF p_lead_ids IS NULL THEN
            DELETE FROM leads WHERE leads.campaign_id = p_campaign_id;
        ELSE
            DELETE FROM leads
            WHERE leads.campaign_id = p_campaign_id AND leads.id = ANY (p_lead_ids);
        END IF;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        -- The statement-level trigger has updated the counts by now: the stats include it.
        stats := recalculate_campaign_stats(p_campaign_id);
    END IF;
    RETURN NEXT;
END;
$$;
