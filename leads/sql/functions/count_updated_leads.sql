-- The leads an UPDATE moved from one status to another, moved between their counts once
-- per statement (see move_lead_counts.sql): a lead's new status gains it, its old one
-- loses it, and an update that kept the status moves nothing.
CREATE OR REPLACE FUNCTION count_updated_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM move_lead_counts(
        array_agg(ROW(workspace_id, campaign_id, status, delta)::lead_count_move)
    )
    FROM (
        SELECT workspace_id, campaign_id, status, sum(delta) AS delta
        FROM (
            SELECT workspace_id, campaign_id, status, 1 AS delta FROM new_leads
            UNION ALL
            SELECT workspace_id, campaign_id, status, -1 AS delta FROM old_leads
        ) AS changes
        GROUP BY workspace_id, campaign_id, status
    ) AS moves;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER leads_count_updated AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_leads NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_updated_leads();
