-- A DELETE of leads (by ids, or all of a campaign's) in one statement: the campaign locked,
-- the draft check, the delete and the stats. One statement is one round trip: BEGIN
-- travels with it and COMMIT follows.
--
-- p_workspace_id is the workspace of the request's token (already checked): a campaign of
-- another workspace is no campaign. No row when the campaign is not in the workspace. A
-- campaign that is not a draft: its status, and nothing deleted (deleted and stats are
-- null; the caller answers 400: the roster is frozen). Else the leads of p_lead_ids in the
-- campaign (every lead when p_lead_ids is null) are deleted: their number and the
-- campaign's stats after it.
CREATE OR REPLACE FUNCTION delete_campaign_leads(
    p_workspace_id uuid,
    p_campaign_id uuid,
    p_lead_ids uuid[]
) RETURNS TABLE (campaign_status campaign_status, deleted bigint, stats jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    -- Every write locks its campaign row first (lock_campaign in queries.sql): writes and
    -- status changes of a campaign serialize.
    SELECT campaigns.status INTO campaign_status
    FROM campaigns
    WHERE campaigns.id = p_campaign_id AND campaigns.workspace_id = p_workspace_id
    FOR UPDATE;
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
