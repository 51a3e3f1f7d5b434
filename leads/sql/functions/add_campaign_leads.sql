-- An import of leads (POST /api/campaigns/{id}/leads) in one statement: the workspace's
-- locks (lock_workspace), the campaign locked and checked to be a draft
-- (lock_draft_campaign), the suppression check, the dedup in the batch, in the roster and,
-- with p_dedupe workspace or live, in the workspace's other campaigns, the insert, the
-- stats, and the event `leads.added` of the leads inserted (none when none was). One
-- statement is one round trip: BEGIN travels with it and COMMIT (or a dry run's
-- ROLLBACK) follows, so the caller's transaction still decides whether it is kept.
--
-- p_workspace_id is the workspace of the request's token (already checked). p_rows is every
-- row of the request in order, validated and given an id and its identity by the caller, as
-- one JSON array of objects (see _insert_rows in leads/domain/roster.py): one parameter
-- that the server parses, where an array per column would cost the driver more to adapt,
-- value by value, than the insert itself.
--
-- The rules, in order, each over the rows the rules before left:
-- 1. A row whose email or LinkedIn URL matches the suppression list (matching_suppressions)
--    is not added.
-- 2. Of the rows left with one identity, the first is kept (the others are duplicates in
--    the batch).
-- 3. p_dedupe 'workspace': a kept row whose identity a lead of another campaign of the
--    workspace holds in the same field (email or linkedin_url, whatever that campaign's
--    type) is not added; 'live': the same, counting only campaigns not completed;
--    'campaign': no such check.
-- 4. The unique key (workspace_id, campaign_id, identity) decides dedup against the
--    roster: ON CONFLICT DO NOTHING.
--
-- A campaign that is not in the workspace, or not a draft, raises lock_draft_campaign's
-- error. Else: suppressed maps the position (from 0) of each suppressed row to its entry
-- {id, kind, value}; elsewhere maps each identity held in another campaign (rule 3) to the
-- oldest such lead {id, campaign_id}; existing maps each identity not inserted that the
-- roster held already to that lead's id; stats are the campaign's stats after the insert.
CREATE OR REPLACE FUNCTION add_campaign_leads(
    p_workspace_id uuid,
    p_campaign_id uuid,
    p_dedupe text,
    p_rows json
) RETURNS TABLE (suppressed json, elsewhere json, existing json, stats jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    identity_field text;
    not_inserted text[];
    inserted_ids uuid[];
BEGIN
    IF p_dedupe NOT IN ('campaign', 'workspace', 'live') THEN
        RAISE EXCEPTION 'unknown dedupe mode %', p_dedupe;
    END IF;
    PERFORM lock_workspace(p_workspace_id, 'suppressions', false);
    IF p_dedupe <> 'campaign' THEN
        PERFORM lock_workspace(p_workspace_id, 'dedupe', true);
    END IF;
    -- The campaign's identity field is named as its type is.
    identity_field := CASE lock_draft_campaign(p_workspace_id, p_campaign_id)
        WHEN 'email' THEN 'email' ELSE 'linkedin_url' END;
    -- As json, not jsonb: read once, it need not be built into a jsonb value first.
    WITH batch AS (
        SELECT *
        FROM ROWS FROM (
            json_to_recordset(p_rows) AS (
                id uuid, identity text, email text, linkedin_url text, first_name text,
                last_name text, name text, company text, position text, headline text,
                custom_fields jsonb, ascii_domain text
            )
        ) WITH ORDINALITY AS batch_rows (
            id, identity, email, linkedin_url, first_name, last_name, name, company,
            position, headline, custom_fields, ascii_domain, n
        )
    ),
    matched AS (
        SELECT matching.n, matching.id, matching.kind, matching.value
        FROM matching_suppressions(
            p_workspace_id,
            ARRAY(SELECT batch.email FROM batch ORDER BY batch.n),
            ARRAY(SELECT batch.linkedin_url FROM batch ORDER BY batch.n),
            ARRAY(SELECT batch.ascii_domain FROM batch ORDER BY batch.n)
        ) AS matching
    ),
    kept AS (
        SELECT DISTINCT ON (batch.identity) batch.*
        FROM batch
        WHERE NOT EXISTS (SELECT FROM matched WHERE matched.n = batch.n)
        ORDER BY batch.identity, batch.n
    ),
    held_elsewhere AS (
        SELECT kept.identity, other.id, other.campaign_id, other.created_at
        FROM kept
        CROSS JOIN LATERAL (
            -- One branch runs: the other's condition on the parameters is false before
            -- any row is read.
            SELECT leads.id, leads.campaign_id, leads.created_at
            FROM leads
            WHERE p_dedupe <> 'campaign' AND identity_field = 'email'
              AND leads.workspace_id = p_workspace_id AND leads.email = kept.identity
              AND leads.campaign_id <> p_campaign_id
            UNION ALL
            SELECT leads.id, leads.campaign_id, leads.created_at
            FROM leads
            WHERE p_dedupe <> 'campaign' AND identity_field = 'linkedin_url'
              AND leads.workspace_id = p_workspace_id AND leads.linkedin_url = kept.identity
              AND leads.campaign_id <> p_campaign_id
        ) AS other
        WHERE p_dedupe = 'workspace' OR EXISTS (
            SELECT FROM campaigns
            WHERE campaigns.workspace_id = p_workspace_id
              AND campaigns.id = other.campaign_id AND campaigns.status <> 'completed'
        )
    ),
    oldest_elsewhere AS (
        SELECT DISTINCT ON (held_elsewhere.identity) held_elsewhere.*
        FROM held_elsewhere
        ORDER BY held_elsewhere.identity, held_elsewhere.created_at, held_elsewhere.id
    ),
    inserted AS (
        INSERT INTO leads (workspace_id, id, campaign_id, identity, email, linkedin_url,
                           first_name, last_name, name, company, position, headline,
                           custom_fields)
        SELECT p_workspace_id, kept.id, p_campaign_id, kept.identity, kept.email,
               kept.linkedin_url, kept.first_name, kept.last_name, kept.name, kept.company,
               kept.position, kept.headline, coalesce(kept.custom_fields, '{}'::jsonb)
        FROM kept
        WHERE NOT EXISTS (
            SELECT FROM oldest_elsewhere WHERE oldest_elsewhere.identity = kept.identity
        )
        ON CONFLICT (workspace_id, campaign_id, identity) DO NOTHING
        RETURNING leads.identity, leads.id
    )
    SELECT
        (SELECT json_object_agg(
                    matched.n - 1,
                    json_build_object('id', matched.id, 'kind', matched.kind,
                                      'value', matched.value))
         FROM matched),
        (SELECT json_object_agg(
                    oldest_elsewhere.identity,
                    json_build_object('id', oldest_elsewhere.id,
                                      'campaign_id', oldest_elsewhere.campaign_id))
         FROM oldest_elsewhere),
        (SELECT array_agg(kept.identity) FROM kept
         WHERE NOT EXISTS (SELECT FROM inserted WHERE inserted.identity = kept.identity)),
        (SELECT array_agg(inserted.id ORDER BY inserted.id) FROM inserted)
    INTO suppressed, elsewhere, not_inserted, inserted_ids;
    suppressed := coalesce(suppressed, '{}'::json);
    elsewhere := coalesce(elsewhere, '{}'::json);
    existing := '{}'::json;
    IF not_inserted IS NOT NULL THEN
        -- A statement of its own: it sees the roster as the insert left it, and the
        -- leads that were there before are the ones the insert did not write.
        SELECT json_object_agg(leads.identity, leads.id) INTO existing
        FROM leads
        WHERE leads.workspace_id = p_workspace_id AND leads.campaign_id = p_campaign_id
          AND leads.identity = ANY (not_inserted);
        existing := coalesce(existing, '{}'::json);
    END IF;
    -- The statement-level trigger has updated the counts by now: the stats include it.
    stats := recalculate_campaign_stats(p_workspace_id, p_campaign_id);
    IF inserted_ids IS NOT NULL THEN
        PERFORM record_event(
            p_workspace_id, 'leads.added', p_campaign_id,
            json_build_object('lead_ids', to_json(inserted_ids),
                               'count', cardinality(inserted_ids))
        );
    END IF;
    RETURN NEXT;
END;
$$;
