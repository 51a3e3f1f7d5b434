-- An import of leads (POST /api/campaigns/{id}/leads) in one statement: the campaign locked
-- and checked to be a draft (lock_draft_campaign), the insert, the ids of the leads the
-- roster held already and the stats.
-- One statement is one round trip: BEGIN travels with it and COMMIT (or a dry run's
-- ROLLBACK) follows, so the caller's transaction still decides whether it is kept.
--
-- p_workspace_id is the workspace of the request's token (already checked). p_rows is the batch, deduplicated and given ids by the
-- caller, as one JSON array of objects (see _insert_rows in leads/domain/roster.py): one
-- parameter that the server parses, where an array per column would cost the driver more
-- to adapt, value by value, than the insert itself. The unique constraint on
-- (campaign_id, identity) decides dedup against the roster: ON CONFLICT DO NOTHING.
--
-- A campaign that is not in the workspace, or not a draft, raises lock_draft_campaign's
-- error. Else existing maps each identity of the batch that the roster held already to
-- that lead's id (an empty object when there was none), and stats are the campaign's stats
-- after the insert.
CREATE OR REPLACE FUNCTION add_campaign_leads(
    p_workspace_id uuid,
    p_campaign_id uuid,
    p_rows json
) RETURNS TABLE (existing json, stats jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    not_inserted text[];
BEGIN
    PERFORM lock_draft_campaign(p_workspace_id, p_campaign_id);
    -- As json, not jsonb: read once, it need not be built into a jsonb value first.
    WITH batch AS (
        SELECT *
        FROM json_to_recordset(p_rows) AS batch_rows (
            id uuid, identity text, email text, linkedin_url text, first_name text,
            last_name text, name text, company text, position text, headline text,
            custom_fields jsonb
        )
    ),
    inserted AS (
        INSERT INTO leads (id, campaign_id, identity, email, linkedin_url, first_name,
                           last_name, name, company, position, headline, custom_fields)
        SELECT batch.id, p_campaign_id, batch.identity, batch.email, batch.linkedin_url,
               batch.first_name, batch.last_name, batch.name, batch.company,
               batch.position, batch.headline, coalesce(batch.custom_fields, '{}'::jsonb)
        FROM batch
        ON CONFLICT (campaign_id, identity) DO NOTHING
        RETURNING leads.identity
    )
    SELECT array_agg(missing.identity) INTO not_inserted
    FROM (
        SELECT batch.identity FROM batch
        EXCEPT
        SELECT inserted.identity FROM inserted
    ) AS missing;
    existing := '{}'::json;
    IF not_inserted IS NOT NULL THEN
        -- A statement of its own: it sees the roster as the insert left it, and the
        -- leads that were there before are the ones the insert did not write.
        SELECT json_object_agg(leads.identity, leads.id) INTO existing
        FROM leads
        WHERE leads.campaign_id = p_campaign_id AND leads.identity = ANY (not_inserted);
    END IF;
    -- The statement-level trigger has updated the counts by now: the stats include it.
    stats := recalculate_campaign_stats(p_campaign_id);
    RETURN NEXT;
END;
$$;
