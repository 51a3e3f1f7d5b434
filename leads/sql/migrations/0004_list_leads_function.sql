-- A page of leads (GET /api/campaigns/{id}/leads), listed by a PL/pgSQL function: PL/pgSQL
-- keeps the plans of its statements for the session, where the single statement it replaces
-- (a CTE each for the token's campaign, the page's start and the page, and a sort) was
-- planned on every request, in more time than it took to run. A page of 200 at the start
-- of a roster of 1,000,000: 2.7-3.3 ms became 1.9-2.5 ms, end to end through psycopg2
-- (docs/PERFORMANCE.md).
--
-- No row when the token is unknown or revoked or the campaign is not in its workspace; one
-- row with a null lead when the page is empty; else the page in list order (created_at,
-- then id) and one lead more, which tells that a next page exists. Every row carries the
-- token's workspace and the total of leads matching the filter, read from the maintained
-- counts, never counted over the roster. STABLE: every statement sees the snapshot of the
-- calling query, so the total and the page agree.
--
-- The page starts after (p_after_created_at, p_after_id) when given (a cursor), past
-- p_offset leads otherwise (a page number). A status filter and its absence have statements
-- of their own, with no "p_status IS NULL OR ..." in them: a plan kept for the session must
-- not depend on which of the two its first calls asked for (a generic plan of that
-- condition would scan the whole roster for a rare status). The total's own such condition
-- reads at most one row of counts a status: any plan of it is a lookup of a few rows.
CREATE FUNCTION list_leads(
    p_token_hash bytea,
    p_campaign_id uuid,
    p_status lead_status,
    p_after_created_at timestamptz,
    p_after_id uuid,
    p_offset bigint,
    p_page_size integer
) RETURNS TABLE (
    workspace_id text, total bigint, id text, campaign_id text, status lead_status,
    email text, linkedin_url text, first_name text, last_name text, name text,
    company text, "position" text, headline text, custom_fields text,
    created_at timestamptz, updated_at timestamptz
)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    found_workspace_id uuid;
    found_total bigint;
    -- The page's leads come after this position: before the first lead by default.
    after_created_at timestamptz := coalesce(p_after_created_at, '-infinity');
    after_id uuid := coalesce(p_after_id, '00000000-0000-0000-0000-000000000000');
BEGIN
    SELECT campaigns.workspace_id, coalesce((
               SELECT sum(counts.lead_count)
               FROM campaign_lead_counts AS counts
               WHERE counts.campaign_id = campaigns.id
                 AND (p_status IS NULL OR counts.status = p_status)
           ), 0)::bigint
    INTO found_workspace_id, found_total
    FROM campaigns
    JOIN api_tokens ON api_tokens.workspace_id = campaigns.workspace_id
    WHERE campaigns.id = p_campaign_id
      AND api_tokens.token_hash = p_token_hash AND api_tokens.revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- A page number: first the lead before the page, found in the order index alone (an
    -- index-only scan skips the offset: the index holds the id). Past the last lead,
    -- SELECT INTO sets both to null, and no lead comes after null: an empty page. Then the
    -- page: one range scan of the order index, as a hand-written first page would be. The
    -- columns are what the API sends, ids and custom_fields as text: the driver would
    -- build a UUID and a dict of each, only for them to be written out again.
    IF p_status IS NULL THEN
        IF p_offset > 0 THEN
            SELECT leads.created_at, leads.id INTO after_created_at, after_id
            FROM leads
            WHERE leads.campaign_id = p_campaign_id
            ORDER BY leads.created_at, leads.id LIMIT 1 OFFSET p_offset - 1;
        END IF;
        RETURN QUERY
        SELECT found_workspace_id::text, found_total, leads.id::text, leads.campaign_id::text,
               leads.status, leads.email, leads.linkedin_url, leads.first_name, leads.last_name,
               coalesce(leads.name, nullif(concat_ws(' ', leads.first_name, leads.last_name), '')),
               leads.company, leads.position, leads.headline, leads.custom_fields::text,
               leads.created_at, leads.updated_at
        FROM leads
        WHERE leads.campaign_id = p_campaign_id
          AND (leads.created_at, leads.id) > (after_created_at, after_id)
        ORDER BY leads.created_at, leads.id LIMIT p_page_size + 1;
    ELSE
        IF p_offset > 0 THEN
            SELECT leads.created_at, leads.id INTO after_created_at, after_id
            FROM leads
            WHERE leads.campaign_id = p_campaign_id AND leads.status = p_status
            ORDER BY leads.created_at, leads.id LIMIT 1 OFFSET p_offset - 1;
        END IF;
        RETURN QUERY
        SELECT found_workspace_id::text, found_total, leads.id::text, leads.campaign_id::text,
               leads.status, leads.email, leads.linkedin_url, leads.first_name, leads.last_name,
               coalesce(leads.name, nullif(concat_ws(' ', leads.first_name, leads.last_name), '')),
               leads.company, leads.position, leads.headline, leads.custom_fields::text,
               leads.created_at, leads.updated_at
        FROM leads
        WHERE leads.campaign_id = p_campaign_id AND leads.status = p_status
          AND (leads.created_at, leads.id) > (after_created_at, after_id)
        ORDER BY leads.created_at, leads.id LIMIT p_page_size + 1;
    END IF;
    IF NOT FOUND THEN
        RETURN QUERY SELECT found_workspace_id::text, found_total, NULL::text, NULL::text,
            NULL::lead_status, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
            NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz,
            NULL::timestamptz;
    END IF;
END;
$$;
