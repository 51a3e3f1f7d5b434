-- The leads an INSERT wrote or a DELETE removed, counted in or out once per statement (see
-- move_lead_counts.sql). Both triggers name their transition table changed_leads, so that
-- one function serves both; the triggers are defined here, beside the function they call:
-- they cannot exist before it.
CREATE OR REPLACE FUNCTION count_added_or_removed_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    PERFORM move_lead_counts(
        array_agg(ROW(workspace_id, campaign_id, status, sign * n)::lead_count_move)
    )
    FROM (
        SELECT workspace_id, campaign_id, status, count(*) AS n
        FROM changed_leads GROUP BY workspace_id, campaign_id, status
    ) AS moves;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER leads_count_inserted AFTER INSERT ON leads
    REFERENCING NEW TABLE AS changed_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_added_or_removed_leads();

CREATE OR REPLACE TRIGGER leads_count_deleted AFTER DELETE ON leads
    REFERENCING OLD TABLE AS changed_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_added_or_removed_leads();
