-- A DELETE of leads (by ids, or all of a campaign's) in one statement: the campaign locked
-- and checked to be a draft (lock_draft_campaign), the delete, the stats and the event
-- `leads.removed` (none when no lead was). One statement
-- is one round trip: BEGIN travels with it and COMMIT follows.
--
-- p_workspace_id is the workspace of the request's token (already checked). A campaign
-- that is not in the workspace, or not a draft, raises lock_draft_campaign's error. Else
-- the leads of p_lead_ids in the campaign (every lead when p_lead_ids is null) are
-- deleted: their number and the campaign's stats after it.
CREATE OR REPLACE FUNCTION delete_campaign_leads(
    p_workspace_id uuid,
    p_campaign_id uuid,
    p_lead_ids uuid[]
) RETURNS TABLE (deleted bigint, stats jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    removed_ids uuid[];
BEGIN
    PERFORM lock_draft_campaign(p_workspace_id, p_campaign_id);
    -- A statement each: a plan kept for the session must not depend on which of the
    -- two its first calls asked for.
    IF p_lead_ids IS NULL THEN
        DELETE FROM leads
        WHERE leads.workspace_id = p_workspace_id AND leads.campaign_id = p_campaign_id;
        GET DIAGNOSTICS deleted = ROW_COUNT;
    ELSE
        WITH removed AS (
            DELETE FROM leads
            WHERE leads.workspace_id = p_workspace_id AND leads.campaign_id = p_campaign_id
              AND leads.id = ANY (p_lead_ids)
            RETURNING leads.id
        )
        SELECT array_agg(removed.id ORDER BY removed.id) INTO removed_ids FROM removed;
        deleted := coalesce(cardinality(removed_ids), 0);
    END IF;
    -- The statement-level trigger has updated the counts by now: the stats include it.
    stats := recalculate_campaign_stats(p_workspace_id, p_campaign_id);
    IF deleted > 0 THEN
        -- All of a roster: the count, not a million ids.
        PERFORM record_event(
            p_workspace_id, 'leads.removed', p_campaign_id,
            CASE WHEN p_lead_ids IS NULL
                 THEN json_build_object('all', true, 'count', deleted)
                 ELSE json_build_object('lead_ids', to_json(removed_ids), 'count', deleted)
            END
        );
    END IF;
    RETURN NEXT;
END;
$$;
