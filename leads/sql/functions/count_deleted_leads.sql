-- Takes the leads a DELETE removed off campaign_lead_counts, once per statement (see
-- count_inserted_leads.sql). Those leads were counted, so their rows exist.
CREATE OR REPLACE FUNCTION count_deleted_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE campaign_lead_counts AS counts
    SET lead_count = counts.lead_count - gone.lead_count
    FROM (
        SELECT campaign_id, status, count(*) AS lead_count
        FROM deleted_leads GROUP BY campaign_id, status
    ) AS gone
    WHERE counts.campaign_id = gone.campaign_id AND counts.status = gone.status;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER leads_count_deleted AFTER DELETE ON leads
    REFERENCING OLD TABLE AS deleted_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_leads();
