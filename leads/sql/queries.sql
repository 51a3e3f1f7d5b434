-- Every query the service runs, loaded by name (see leads/queries.py).
-- Each block starts with "-- name: <query name>".

-- name: create_workspace
INSERT INTO workspaces (name) VALUES (%(name)s)
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING id;

-- name: create_token
INSERT INTO api_tokens (workspace_id, token_prefix, token_hash)
VALUES (%(workspace_id)s, %(token_prefix)s, %(token_hash)s);

-- name: find_token
SELECT api_tokens.workspace_id, api_tokens.token_hash
FROM api_tokens
WHERE api_tokens.token_hash = %(token_hash)s AND api_tokens.revoked_at IS NULL;

-- name: list_tokens
SELECT api_tokens.token_prefix, workspaces.name AS workspace, api_tokens.created_at,
       api_tokens.revoked_at
FROM api_tokens
JOIN workspaces ON workspaces.id = api_tokens.workspace_id
ORDER BY api_tokens.created_at, api_tokens.token_prefix;

-- name: revoke_token
UPDATE api_tokens SET revoked_at = now()
WHERE token_prefix = %(token_prefix)s AND revoked_at IS NULL
RETURNING token_prefix;

-- name: create_campaign
INSERT INTO campaigns (workspace_id, name, type)
VALUES (%(workspace_id)s, %(name)s, %(type)s)
RETURNING id;

-- name: list_campaigns
SELECT id, name, type, status, stats, created_at, updated_at
FROM campaigns
WHERE workspace_id = %(workspace_id)s
ORDER BY created_at, id;

-- name: get_campaign
SELECT id, name, type, status, stats, created_at, updated_at
FROM campaigns
WHERE id = %(campaign_id)s AND workspace_id = %(workspace_id)s;

-- name: lock_campaign
-- Every write locks its campaign row first, so writes and status changes serialize.
SELECT id, name, type, status, stats, created_at, updated_at
FROM campaigns
WHERE id = %(campaign_id)s AND workspace_id = %(workspace_id)s
FOR UPDATE;

-- name: set_campaign_status
UPDATE campaigns SET status = %(status)s, updated_at = now()
WHERE id = %(campaign_id)s
RETURNING id, name, type, status, stats, created_at, updated_at;

-- name: recalculate_campaign_stats
SELECT recalculate_campaign_stats(%(campaign_id)s) AS stats;

-- name: count_leads_by_status
SELECT statuses.status, coalesce(counts.lead_count, 0) AS lead_count
FROM unnest(enum_range(NULL::lead_status)) AS statuses (status)
LEFT JOIN campaign_lead_counts AS counts
    ON counts.campaign_id = %(campaign_id)s AND counts.status = statuses.status
ORDER BY statuses.status;

-- name: count_campaign_leads
-- The campaign's leads (of one status, when given) from the maintained counts, never the
-- roster; no row when the campaign is not in the workspace. One round trip for both.
SELECT (
    SELECT coalesce(sum(counts.lead_count), 0)::bigint
    FROM campaign_lead_counts AS counts
    WHERE counts.campaign_id = campaigns.id
      AND (%(status)s::lead_status IS NULL OR counts.status = %(status)s::lead_status)
) AS total
FROM campaigns
WHERE campaigns.id = %(campaign_id)s AND campaigns.workspace_id = %(workspace_id)s;

-- name: list_leads
-- One page in list order: after a cursor's (created_at, id) when one is given (keyset: an
-- index range scan at any depth), past `offset` rows otherwise (page numbers). Skipped rows
-- are read from the order index alone (an index-only scan: it holds the id), then only the
-- page's leads are fetched. Each lead comes as the JSON text the API sends, built here (no
-- value is decoded and encoded again in Python), with its place in the order.
WITH page AS (
    SELECT id
    FROM leads
    WHERE campaign_id = %(campaign_id)s
      AND (%(status)s::lead_status IS NULL OR status = %(status)s::lead_status)
      AND (%(after_created_at)s::timestamptz IS NULL
           OR (created_at, id) > (%(after_created_at)s::timestamptz, %(after_id)s::uuid))
    ORDER BY created_at, id
    LIMIT %(limit)s OFFSET %(offset)s
)
SELECT row_to_json(lead)::text AS lead_json, lead.created_at, lead.id
FROM (
    SELECT id, campaign_id, status, email, linkedin_url, first_name, last_name,
           coalesce(name, nullif(concat_ws(' ', first_name, last_name), '')) AS name,
           company, position, headline, custom_fields, created_at, updated_at
    FROM leads
    WHERE id IN (SELECT id FROM page)
) AS lead
ORDER BY lead.created_at, lead.id;

-- name: insert_leads
-- The unique constraint on (campaign_id, identity) decides dedup against the roster.
INSERT INTO leads (id, campaign_id, identity, email, linkedin_url, first_name, last_name,
                   name, company, position, headline, custom_fields)
SELECT rows.id, %(campaign_id)s, rows.identity, rows.email, rows.linkedin_url,
       rows.first_name, rows.last_name, rows.name, rows.company, rows.position,
       rows.headline, rows.custom_fields::jsonb
FROM unnest(
    %(ids)s::uuid[], %(identities)s::text[], %(emails)s::text[], %(linkedin_urls)s::text[],
    %(first_names)s::text[], %(last_names)s::text[], %(names)s::text[],
    %(companies)s::text[], %(positions)s::text[], %(headlines)s::text[],
    %(custom_fields)s::text[]
) AS rows (id, identity, email, linkedin_url, first_name, last_name, name, company,
           position, headline, custom_fields)
ON CONFLICT (campaign_id, identity) DO NOTHING
RETURNING id;

-- name: find_leads_by_identity
SELECT id, identity
FROM leads
WHERE campaign_id = %(campaign_id)s AND identity = ANY(%(identities)s::text[]);

-- name: get_lead
SELECT id, campaign_id, status, email, linkedin_url, first_name, last_name,
       coalesce(name, nullif(concat_ws(' ', first_name, last_name), '')) AS name,
       company, position, headline, custom_fields, created_at, updated_at
FROM leads
WHERE id = %(lead_id)s AND campaign_id = %(campaign_id)s;

-- name: get_lead_for_update
SELECT id, identity, email, linkedin_url, first_name, last_name, name, company, position,
       headline, custom_fields
FROM leads
WHERE id = %(lead_id)s AND campaign_id = %(campaign_id)s
FOR UPDATE;

-- name: update_lead
UPDATE leads
SET identity = %(identity)s, email = %(email)s, linkedin_url = %(linkedin_url)s,
    first_name = %(first_name)s, last_name = %(last_name)s, name = %(name)s,
    company = %(company)s, position = %(position)s, headline = %(headline)s,
    custom_fields = %(custom_fields)s::jsonb, updated_at = now()
WHERE id = %(lead_id)s AND campaign_id = %(campaign_id)s;

-- name: delete_leads
DELETE FROM leads
WHERE campaign_id = %(campaign_id)s AND id = ANY(%(lead_ids)s::uuid[]);

-- name: delete_all_leads
DELETE FROM leads
WHERE campaign_id = %(campaign_id)s;

-- name: ping
SELECT 1;

-- name: lock_idempotency_key
-- Held until the request's transaction ends: a second request with the key is a 409.
SELECT pg_try_advisory_xact_lock(
    hashtextextended(%(workspace_id)s::text || ':' || %(idempotency_key)s, 0)
) AS locked;

-- name: find_idempotent_response
SELECT request_hash, response_status, response_body
FROM idempotency_keys
WHERE workspace_id = %(workspace_id)s
  AND idempotency_key = %(idempotency_key)s
  AND created_at > now() - %(retention)s::interval;

-- name: save_idempotent_response
-- An expired record of the same key is replaced.
INSERT INTO idempotency_keys (workspace_id, idempotency_key, request_hash, response_status,
                              response_body)
VALUES (%(workspace_id)s, %(idempotency_key)s, %(request_hash)s, %(response_status)s,
        %(response_body)s)
ON CONFLICT (workspace_id, idempotency_key) DO UPDATE
SET request_hash = EXCLUDED.request_hash, response_status = EXCLUDED.response_status,
    response_body = EXCLUDED.response_body, created_at = now();

-- name: purge_idempotency_keys
DELETE FROM idempotency_keys
WHERE created_at <= now() - %(retention)s::interval;
