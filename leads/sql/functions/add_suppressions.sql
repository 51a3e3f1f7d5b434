-- An add to the suppression list (POST /api/suppressions) in one statement: the entries
-- inserted, the ids of those the list held already and, with p_remove_from_drafts, the
-- removal of every lead they match from the workspace's draft rosters, with the stats of
-- each roster changed, and the events: `suppressions.added` (when an entry was added), then
-- `leads.removed` for each roster that lost leads. One statement is one round trip, as
-- add_campaign_leads.
--
-- p_entries is the request's entries, validated, normalized, deduplicated and given ids by
-- the caller (leads/domain/suppressions.py), as a JSON array of objects {id, kind, value,
-- reason, note, unicode_value}; unicode_value is the Unicode form of an internationalized
-- domain (the form a lead's email holds it in), null otherwise. The unique key
-- (workspace_id, kind, value) decides dedup against the list: ON CONFLICT DO NOTHING.
--
-- existing maps "kind:value" of each entry the list held already to its id. removed is
-- null without p_remove_from_drafts, else the leads removed per campaign,
-- [{"id": campaign, "removed": n}] in campaign id order (campaigns that lost none are not
-- listed). A lead matches an entry as matching_suppressions says: the same email or
-- LinkedIn URL, or an email at the entry's domain or a subdomain of it (email_domains).
-- Only draft rosters change: the draft campaigns are locked first, and a campaign that
-- left draft meanwhile is no longer one when the leads are read.
CREATE OR REPLACE FUNCTION add_suppressions(
    p_workspace_id uuid,
    p_entries json,
    p_remove_from_drafts boolean
) RETURNS TABLE (existing json, removed json)
LANGUAGE plpgsql AS $$
DECLARE
    pending json := p_entries;
    not_inserted text[];
    inserted_ids uuid[];
    added_ids uuid[] := '{}';
    found jsonb;
    held jsonb := '{}'::jsonb;
    removed_per_campaign jsonb;
BEGIN
    IF p_remove_from_drafts THEN
        -- Exclusive: every lead write of the workspace either committed before (and its
        -- leads are seen below) or waits, and sees these entries (lock_workspace.sql).
        PERFORM lock_workspace(p_workspace_id, 'suppressions', true);
    END IF;
    -- An entry the insert finds in the list may be removed by another transaction before
    -- the lookup below reads it: such entries are inserted again, until each entry of the
    -- request is either inserted or found.
    LOOP
        WITH entries AS (
            SELECT *
            FROM json_to_recordset(pending) AS given (
                id uuid, kind suppression_kind, value text, reason suppression_reason,
                note text
            )
        ),
        inserted AS (
            INSERT INTO suppressions (workspace_id, id, kind, value, reason, note)
            SELECT p_workspace_id, entries.id, entries.kind, entries.value,
                   coalesce(entries.reason, 'manual'), entries.note
            FROM entries
            ORDER BY entries.id
            ON CONFLICT (workspace_id, kind, value) DO NOTHING
            RETURNING suppressions.kind, suppressions.value, suppressions.id
        )
        SELECT
            (SELECT array_agg(entries.kind || ':' || entries.value)
             FROM entries
             WHERE NOT EXISTS (
                 SELECT FROM inserted
                 WHERE inserted.kind = entries.kind AND inserted.value = entries.value
             )),
            (SELECT array_agg(inserted.id) FROM inserted)
        INTO not_inserted, inserted_ids;
        added_ids := added_ids || coalesce(inserted_ids, '{}');
        EXIT WHEN not_inserted IS NULL;
        -- A statement of its own: it sees the entries that a concurrent add committed
        -- while the insert waited for them.
        SELECT jsonb_object_agg(given.kind || ':' || given.value, suppressions.id)
        INTO found
        FROM json_to_recordset(pending) AS given (kind suppression_kind, value text)
        JOIN suppressions
            ON suppressions.workspace_id = p_workspace_id
           AND suppressions.kind = given.kind AND suppressions.value = given.value
        WHERE given.kind || ':' || given.value = ANY (not_inserted);
        held := held || coalesce(found, '{}'::jsonb);
        SELECT json_agg(entry) INTO pending
        FROM json_array_elements(pending) AS entry
        WHERE (entry ->> 'kind') || ':' || (entry ->> 'value') = ANY (not_inserted)
          AND NOT held ? ((entry ->> 'kind') || ':' || (entry ->> 'value'));
        EXIT WHEN pending IS NULL;
    END LOOP;
    existing := held::json;
    added_ids := ARRAY(SELECT unnest(added_ids) ORDER BY 1);
    IF p_remove_from_drafts THEN
        PERFORM 1 FROM campaigns
        WHERE campaigns.workspace_id = p_workspace_id AND campaigns.status = 'draft'
        ORDER BY campaigns.id
        FOR UPDATE;
        WITH entries AS (
            SELECT *
            FROM json_to_recordset(p_entries) AS given (
                kind suppression_kind, value text, unicode_value text
            )
        ),
        drafts AS (
            SELECT campaigns.id FROM campaigns
            WHERE campaigns.workspace_id = p_workspace_id AND campaigns.status = 'draft'
        ),
        domains AS (
            SELECT entries.value AS domain FROM entries WHERE entries.kind = 'domain'
            UNION
            SELECT entries.unicode_value FROM entries
            WHERE entries.kind = 'domain' AND entries.unicode_value IS NOT NULL
        ),
        matched AS (
            SELECT leads.id FROM leads
            JOIN entries ON entries.kind = 'email' AND leads.email = entries.value
            WHERE leads.workspace_id = p_workspace_id
              AND leads.campaign_id IN (SELECT drafts.id FROM drafts)
            UNION
            SELECT leads.id FROM leads
            JOIN entries ON entries.kind = 'linkedin_url' AND leads.linkedin_url = entries.value
            WHERE leads.workspace_id = p_workspace_id
              AND leads.campaign_id IN (SELECT drafts.id FROM drafts)
            UNION
            -- Every email of the draft rosters is read here, and only when a domain is added:
            -- a domain matches by its suffix, which no index of leads serves.
            SELECT leads.id FROM leads
            CROSS JOIN LATERAL email_domains(leads.email, NULL) AS email_domain
            JOIN domains ON domains.domain = email_domain.domain
            WHERE EXISTS (SELECT FROM domains)
              AND leads.workspace_id = p_workspace_id AND leads.email IS NOT NULL
              AND leads.campaign_id IN (SELECT drafts.id FROM drafts)
        ),
        deleted AS (
            DELETE FROM leads
            WHERE leads.workspace_id = p_workspace_id
              AND leads.id IN (SELECT matched.id FROM matched)
            RETURNING leads.campaign_id, leads.id
        )
        SELECT jsonb_agg(jsonb_build_object('id', per_campaign.campaign_id,
                                            'lead_ids', per_campaign.lead_ids)
                         ORDER BY per_campaign.campaign_id)
        INTO removed_per_campaign
        FROM (
            SELECT deleted.campaign_id,
                   to_jsonb(array_agg(deleted.id ORDER BY deleted.id)) AS lead_ids
            FROM deleted GROUP BY deleted.campaign_id
        ) AS per_campaign;
        removed_per_campaign := coalesce(removed_per_campaign, '[]'::jsonb);
        removed := (
            SELECT coalesce(
                       json_agg(json_build_object(
                                    'id', changed ->> 'id',
                                    'removed', jsonb_array_length(changed -> 'lead_ids'))
                                ORDER BY changed ->> 'id'),
                       '[]'::json)
            FROM jsonb_array_elements(removed_per_campaign) AS changed
        );
        -- The statement-level trigger has moved the counts: each changed roster's stats.
        PERFORM recalculate_campaign_stats(p_workspace_id, (changed ->> 'id')::uuid)
        FROM jsonb_array_elements(removed_per_campaign) AS changed;
    END IF;
    -- The events last: record_event's lock is held until the commit (record_event.sql).
    IF cardinality(added_ids) > 0 THEN
        PERFORM record_event(
            p_workspace_id, 'suppressions.added', NULL,
            json_build_object('ids', to_json(added_ids), 'count', cardinality(added_ids))
        );
    END IF;
    PERFORM record_event(
        p_workspace_id, 'leads.removed', (changed ->> 'id')::uuid,
        json_build_object('lead_ids', changed -> 'lead_ids',
                          'count', jsonb_array_length(changed -> 'lead_ids'))
    )
    FROM jsonb_array_elements(removed_per_campaign) AS changed;
    RETURN NEXT;
END;
$$;
