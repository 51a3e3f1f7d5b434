-- A page of leads (GET /api/campaigns/{id}/leads) and the total it is a page of, in one
-- call. STABLE: every statement sees the snapshot of the calling query, so the total and
-- the page agree.
--
-- p_workspace_id is the workspace of the request's token (already checked): a campaign of
-- another workspace is no campaign. No row when the campaign is not in the workspace. Else
-- a first row with the total of leads matching the filter (read from the maintained
-- counts, never counted over the roster) and nothing else, then the page in list order
-- (created_at, then id) and one lead more, which tells that a next page exists. A lead's
-- row has no total and no campaign id (it is the campaign of the call), so that nothing
-- is written out and decoded again on every row. An empty page is the first row alone.
-- The columns are what the API sends: ids and custom_fields as text, where the driver
-- would build a UUID and a dict of each only for them to be written out again, and the
-- timestamps as the server's text, which the caller reads with datetime.fromisoformat.
--
-- The page starts after (p_after_created_at, p_after_id) when given (a cursor), past
-- p_offset leads otherwise (a page number).
--
-- Plans: PL/pgSQL keeps a plan per statement for the session, and this function keeps
-- generic plans (made without the call's values) from its first call: under PostgreSQL's
-- own choice the page's statement, whose LIMIT is a parameter, would be planned again on
-- every call, since a generic plan estimates an unknown LIMIT as a tenth of the roster.
-- Generic plans are safe here whatever the values: a status filter and its absence have
-- statements of their own, with no "p_status IS NULL OR ..." in them, so that every
-- statement that reads leads is a range scan of a list-order index bounded by the
-- campaign, the status and the position (tests/test_list_plans.py). The total's own such
-- condition reads at most one row of counts a status: any plan of it is a lookup of a few
-- rows.
CREATE OR REPLACE FUNCTION list_campaign_leads(
    p_workspace_id uuid,
    p_campaign_id uuid,
    p_status lead_status,
    p_after_created_at timestamptz,
    p_after_id uuid,
    p_offset bigint,
    p_page_size integer
) RETURNS TABLE (
    total bigint, id text, status lead_status, email text, linkedin_url text,
    first_name text, last_name text, name text, company text, "position" text,
    headline text, custom_fields text, created_at text, updated_at text
)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    -- The page's leads come after this position: before the first lead by default.
    after_created_at timestamptz := coalesce(p_after_created_at, '-infinity');
    after_id uuid := coalesce(p_after_id, '00000000-0000-0000-0000-000000000000');
BEGIN
    RETURN QUERY
    SELECT coalesce((
               SELECT sum(counts.lead_count)
               FROM campaign_lead_counts AS counts
               WHERE counts.workspace_id = campaigns.workspace_id
                 AND counts.campaign_id = campaigns.id
                 AND (p_status IS NULL OR counts.status = p_status)
           ), 0)::bigint,
           NULL::text, NULL::lead_status, NULL::text, NULL::text, NULL::text, NULL::text,
           NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text
    FROM campaigns
    WHERE campaigns.id = p_campaign_id AND campaigns.workspace_id = p_workspace_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- A page number: first the lead before the page, found in the order index alone (an
    -- index-only scan skips the offset: the index holds the id). Past the last lead,
    -- SELECT INTO sets both to null, and no lead comes after null: an empty page. Then the
    -- page: one range scan of the order index, as a hand-written first page would be.
    IF p_status IS NULL THEN
        IF p_offset > 0 THEN
            SELECT leads.created_at, leads.id INTO after_created_at, after_id
            FROM leads
            WHERE leads.workspace_id = p_workspace_id AND leads.campaign_id = p_campaign_id
            ORDER BY leads.created_at, leads.id LIMIT 1 OFFSET p_offset - 1;
        END IF;
        RETURN QUERY
        SELECT NULL::bigint, leads.id::text, leads.status, leads.email,
               leads.linkedin_url, leads.first_name, leads.last_name,
               coalesce(leads.name, nullif(concat_ws(' ', leads.first_name, leads.last_name), '')),
               leads.company, leads.position, leads.headline, leads.custom_fields::text,
               leads.created_at::text, leads.updated_at::text
        FROM leads
        WHERE leads.workspace_id = p_workspace_id AND leads.campaign_id = p_campaign_id
          AND (leads.created_at, leads.id) > (after_created_at, after_id)
        ORDER BY leads.created_at, leads.id LIMIT p_page_size + 1;
    ELSE
        IF p_offset > 0 THEN
            SELECT leads.created_at, leads.id INTO after_created_at, after_id
            FROM leads
            WHERE leads.workspace_id = p_workspace_id AND leads.campaign_id = p_campaign_id
              AND leads.status = p_status
            ORDER BY leads.created_at, leads.id LIMIT 1 OFFSET p_offset - 1;
        END IF;
        RETURN QUERY
        SELECT NULL::bigint, leads.id::text, leads.status, leads.email,
               leads.linkedin_url, leads.first_name, leads.last_name,
               coalesce(leads.name, nullif(concat_ws(' ', leads.first_name, leads.last_name), '')),
               leads.company, leads.position, leads.headline, leads.custom_fields::text,
               leads.created_at::text, leads.updated_at::text
        FROM leads
        WHERE leads.workspace_id = p_workspace_id AND leads.campaign_id = p_campaign_id
          AND leads.status = p_status
          AND (leads.created_at, leads.id) > (after_created_at, after_id)
        ORDER BY leads.created_at, leads.id LIMIT p_page_size + 1;
    END IF;
END;
$$;
