-- Adds the leads an INSERT wrote to campaign_lead_counts, once per statement: the cost of
-- exact stats grows with the rows a statement touches, never with the roster. The trigger
-- is defined here, beside the function it calls: it cannot exist before the function.
CREATE OR REPLACE FUNCTION count_inserted_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO campaign_lead_counts AS counts (campaign_id, status, lead_count)
    SELECT campaign_id, status, count(*) FROM inserted_leads GROUP BY campaign_id, status
    ORDER BY campaign_id, status
    ON CONFLICT (campaign_id, status)
    DO UPDATE SET lead_count = counts.lead_count + EXCLUDED.lead_count;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER leads_count_inserted AFTER INSERT ON leads
    REFERENCING NEW TABLE AS inserted_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_leads();
