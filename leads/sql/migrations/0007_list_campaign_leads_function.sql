-- A page of leads (GET /api/campaigns/{id}/leads), as list_leads of migration 0004 lists it,
-- with less repeated on every row: list_leads wrote the token's workspace, the total and the
-- campaign's id on each of the 201 rows of a page (three values the server wrote out and
-- the driver decoded 201 times: 0.17 ms of a page of 200 here, docs/PERFORMANCE.md).
--
-- No row when the token is unknown or revoked or the campaign is not in its workspace.
-- Else a first row with the token's workspace and the total of leads matching the filter
-- (read from the maintained counts, never counted over the roster) and nothing else, then
-- the page in list order (created_at, then id) and one lead more, which tells that a next
-- page exists; a lead's row has no workspace and no total, and no campaign id: it is the
-- campaign of the call. An empty page is the first row alone. The timestamps are the
-- server's text: the caller reads them with datetime.fromisoformat, in a third of the time
-- psycopg2's timestamptz caster takes. STABLE: every statement sees the snapshot of the
-- calling query, so the total and the page agree.
--
-- Paging and plans as in list_leads (migration 0004): the page starts after
-- (p_after_created_at, p_after_id) when given (a cursor), past p_offset leads otherwise (a
-- page number); a status filter and its absence have statements of their own, with no
-- "p_status IS NULL OR ..." in them, so that a plan kept for the session (a generic plan)
-- is the same index scan whatever its first calls asked for (tests/test_list_plans.py).
--
-- list_leads stays for one release: the replicas of the previous release still call it
-- during a rolling upgrade (docs/DEPLOYING.md).
CREATE FUNCTION list_campaign_leads(
    p_token_hash bytea,
    p_campaign_id uuid,
    p_status lead_status,
    p_after_created_at timestamptz,
    p_after_id uuid,
    p_offset bigint,
    p_page_size integer
) RETURNS TABLE (
    workspace_id text, total bigint, id text, status lead_status, email text,
    linkedin_url text, first_name text, last_name text, name text, company text,
    "position" text, headline text, custom_fields text, created_at text, updated_at text
)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    -- The page's leads come after this position: before the first lead by default.
    after_created_at timestamptz := coalesce(p_after_created_at, '-infinity');
    after_id uuid := coalesce(p_after_id, '00000000-0000-0000-0000-000000000000');
BEGIN
    RETURN QUERY
    SELECT campaigns.workspace_id::text, coalesce((
               SELECT sum(counts.lead_count)
               FROM campaign_lead_counts AS counts
               WHERE counts.campaign_id = campaigns.id
                 AND (p_status IS NULL OR counts.status = p_status)
           ), 0)::bigint,
           NULL::text, NULL::lead_status, NULL::text, NULL::text, NULL::text, NULL::text,
           NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text
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
        SELECT NULL::text, NULL::bigint, leads.id::text, leads.status, leads.email,
               leads.linkedin_url, leads.first_name, leads.last_name,
               coalesce(leads.name, nullif(concat_ws(' ', leads.first_name, leads.last_name), '')),
               leads.company, leads.position, leads.headline, leads.custom_fields::text,
               leads.created_at::text, leads.updated_at::text
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
        SELECT NULL::text, NULL::bigint, leads.id::text, leads.status, leads.email,
               leads.linkedin_url, leads.first_name, leads.last_name,
               coalesce(leads.name, nullif(concat_ws(' ', leads.first_name, leads.last_name), '')),
               leads.company, leads.position, leads.headline, leads.custom_fields::text,
               leads.created_at::text, leads.updated_at::text
        FROM leads
        WHERE leads.campaign_id = p_campaign_id AND leads.status = p_status
          AND (leads.created_at, leads.id) > (after_created_at, after_id)
        ORDER BY leads.created_at, leads.id LIMIT p_page_size + 1;
    END IF;
END;
$$;
