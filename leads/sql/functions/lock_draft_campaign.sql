-- The frozen-roster rule, for every write of a roster (add_campaign_leads,
-- delete_campaign_leads, and the update_lead path through the query lock_draft_campaign):
-- lock the campaign's row, so that the write and any status change of the campaign
-- serialize, and refuse when the campaign is not a draft. Returns the campaign's type.
--
-- p_workspace_id is the workspace of the request's token (already checked): a campaign of
-- another workspace is no campaign. The refusals are errors, which end the write's
-- transaction with nothing written; leads/domain/roster.py turns them into the API's:
--   LD404  no such campaign in the workspace (404)
--   LD400  the campaign is not a draft, its status in DETAIL (400, the roster is frozen)
CREATE OR REPLACE FUNCTION lock_draft_campaign(
    p_workspace_id uuid,
    p_campaign_id uuid
) RETURNS campaign_type
LANGUAGE plpgsql AS $$
DECLARE
    locked_status campaign_status;
    locked_type campaign_type;
BEGIN
    SELECT campaigns.status, campaigns.type INTO locked_status, locked_type
    FROM campaigns
    WHERE campaigns.id = p_campaign_id AND campaigns.workspace_id = p_workspace_id
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LD404', MESSAGE = 'campaign not found';
    END IF;
    IF locked_status <> 'draft' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LD400',
            MESSAGE = 'the roster is frozen once a campaign leaves draft',
            DETAIL = locked_status;
    END IF;
    RETURN locked_type;
END;
$$;
