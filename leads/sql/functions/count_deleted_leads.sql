-- The leads a DELETE removed, counted out once per statement (see move_lead_counts.sql).
CREATE OR REPLACE FUNCTION count_deleted_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM move_lead_counts(array_agg(ROW(campaign_id, status, -removed)::lead_count_move))
    FROM (
        SELECT campaign_id, status, count(*) AS removed
        FROM deleted_leads GROUP BY campaign_id, status
    ) AS moves;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER leads_count_deleted AFTER DELETE ON leads
    REFERENCING OLD TABLE AS deleted_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_leads();
