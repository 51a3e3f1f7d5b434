-- The leads an INSERT wrote, counted in once per statement (see move_lead_counts.sql). The
-- trigger is defined here, beside the function it calls: it cannot exist before it.
CREATE OR REPLACE FUNCTION count_inserted_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM move_lead_counts(array_agg(ROW(campaign_id, status, added)::lead_count_move))
    FROM (
        SELECT campaign_id, status, count(*) AS added
        FROM inserted_leads GROUP BY campaign_id, status
    ) AS moves;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER leads_count_inserted AFTER INSERT ON leads
    REFERENCING NEW TABLE AS inserted_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_leads();
