-- Writes the campaign's stats from the maintained counts and returns them: total, one count
-- per lead status, contacted (past pending, not cancelled) and last_synced_at. Every write
-- of the roster calls it in its own transaction, after its statement's trigger has moved
-- the counts.
--
-- PL/pgSQL rather than LANGUAGE sql: PostgreSQL plans a LANGUAGE sql function that writes
-- on every call, where PL/pgSQL keeps the plan of its statement for the session.
CREATE OR REPLACE FUNCTION recalculate_campaign_stats(
    p_workspace_id uuid,
    p_campaign_id uuid
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    written jsonb;
BEGIN
    WITH per_status AS (
        SELECT s.status, coalesce(c.lead_count, 0) AS lead_count
        FROM unnest(enum_range(NULL::lead_status)) AS s (status)
        LEFT JOIN campaign_lead_counts AS c
            ON c.workspace_id = p_workspace_id AND c.campaign_id = p_campaign_id
           AND c.status = s.status
    ),
    stats AS (
        SELECT jsonb_build_object('total', sum(lead_count))
            || jsonb_object_agg(status, lead_count)
            || jsonb_build_object(
                'contacted', sum(lead_count) FILTER (WHERE status NOT IN ('pending', 'cancelled')),
                -- As leads_contract.strict_json.timestamp_text writes every other
                -- timestamp: six fraction digits (a timestamptz in JSON drops trailing
                -- zeros) and the offset of the session's time zone.
                'last_synced_at', to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM')
            ) AS stats
        FROM per_status
    )
    UPDATE campaigns
    SET stats = stats.stats
    FROM stats
    WHERE campaigns.workspace_id = p_workspace_id AND campaigns.id = p_campaign_id
    RETURNING campaigns.stats INTO written;
    RETURN written;
END;
$$;
