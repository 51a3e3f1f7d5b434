-- Every query the service runs, loaded by name (see leads/db/queries.py).
-- Each block starts with "-- name: <query name>".

-- name: create_workspace
INSERT INTO workspaces (name) VALUES (%(name)s)
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING id;

-- name: create_token
INSERT INTO api_tokens (workspace_id, token_prefix, token_hash)
VALUES (%(workspace_id)s, %(token_prefix)s, %(token_hash)s);

-- name: find_token
-- The access check of every request (leads/web/auth.py): found by the hash of the token,
-- never the token itself, so how long the lookup takes says nothing of its characters.
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

-- name: find_campaign_type
-- No row when the campaign is not in the workspace: another workspace's campaign is a 404.
SELECT type
FROM campaigns
WHERE id = %(campaign_id)s AND workspace_id = %(workspace_id)s;

-- name: lock_campaign
-- Every write locks its campaign row first, so writes and status changes serialize.
SELECT id, name, type, status
FROM campaigns
WHERE id = %(campaign_id)s AND workspace_id = %(workspace_id)s
FOR UPDATE;

-- name: set_campaign_status
UPDATE campaigns SET status = %(status)s, updated_at = now()
WHERE workspace_id = %(workspace_id)s AND id = %(campaign_id)s
RETURNING id, name, type, status, stats, created_at, updated_at;

-- name: recalculate_campaign_stats
SELECT recalculate_campaign_stats(%(workspace_id)s, %(campaign_id)s) AS stats;

-- name: count_leads_by_status
SELECT statuses.status, coalesce(counts.lead_count, 0) AS lead_count
FROM unnest(enum_range(NULL::lead_status)) AS statuses (status)
LEFT JOIN campaign_lead_counts AS counts
    ON counts.workspace_id = %(workspace_id)s AND counts.campaign_id = %(campaign_id)s
   AND counts.status = statuses.status
ORDER BY statuses.status;

-- name: list_leads
-- One page in list order, with the campaign check and the total, in one round trip
-- (leads/sql/functions/list_campaign_leads.sql says what comes back: the total on a first
-- row of its own, then the leads). WITH ORDINALITY keeps the order the function wrote the
-- rows in, without a sort.
SELECT page.total, page.id, page.status, page.email, page.linkedin_url,
       page.first_name, page.last_name, page.name, page.company, page.position,
       page.headline, page.custom_fields, page.created_at, page.updated_at
FROM list_campaign_leads(
    p_workspace_id => %(workspace_id)s,
    p_campaign_id => %(campaign_id)s,
    p_status => %(status)s::lead_status,
    p_after_created_at => %(after_created_at)s::timestamptz,
    p_after_id => %(after_id)s::uuid,
    p_offset => %(offset)s,
    p_page_size => %(page_size)s
) WITH ORDINALITY AS page
ORDER BY page.ordinality;

-- name: add_leads
-- The locks, the draft check, the suppression check, the dedup, the insert and the stats in
-- one round trip (leads/sql/functions/add_campaign_leads.sql says what comes back). The
-- rows come as one JSON array.
SELECT added.suppressed, added.elsewhere, added.existing, added.stats
FROM add_campaign_leads(
    p_workspace_id => %(workspace_id)s,
    p_campaign_id => %(campaign_id)s,
    p_dedupe => %(dedupe)s,
    p_rows => %(rows)s::json
) AS added;

-- name: find_leads_by_identity
SELECT id, identity
FROM leads
WHERE workspace_id = %(workspace_id)s AND campaign_id = %(campaign_id)s
  AND identity = ANY(%(identities)s::text[]);

-- name: get_lead
-- custom_fields as the database writes it, as a page of leads shows it
-- (leads/web/json_bodies.py).
SELECT id, campaign_id, status, email, linkedin_url, first_name, last_name,
       coalesce(name, nullif(concat_ws(' ', first_name, last_name), '')) AS name,
       company, position, headline, custom_fields::text AS custom_fields, created_at,
       updated_at
FROM leads
WHERE workspace_id = %(workspace_id)s AND id = %(lead_id)s AND campaign_id = %(campaign_id)s;

-- name: lock_draft_campaign
-- The workspace's suppression lock, shared, then the roster's lock and the draft check
-- (leads/sql/functions/lock_workspace.sql, lock_draft_campaign.sql), for a write that is
-- not one function call: the update of a lead. The workspace's lock comes first (its row
-- is read before the select list is computed), as lock_workspace.sql orders them.
SELECT lock_draft_campaign(
    p_workspace_id => %(workspace_id)s,
    p_campaign_id => %(campaign_id)s
) AS type
FROM (SELECT lock_workspace(%(workspace_id)s, 'suppressions', false)) AS workspace_locked;

-- name: get_lead_for_update
SELECT id, identity, email, linkedin_url, first_name, last_name, name, company, position,
       headline, custom_fields
FROM leads
WHERE workspace_id = %(workspace_id)s AND id = %(lead_id)s AND campaign_id = %(campaign_id)s
FOR UPDATE;

-- name: update_lead
UPDATE leads
SET identity = %(identity)s, email = %(email)s, linkedin_url = %(linkedin_url)s,
    first_name = %(first_name)s, last_name = %(last_name)s, name = %(name)s,
    company = %(company)s, position = %(position)s, headline = %(headline)s,
    custom_fields = %(custom_fields)s::jsonb, updated_at = now()
WHERE workspace_id = %(workspace_id)s AND id = %(lead_id)s AND campaign_id = %(campaign_id)s;

-- name: delete_leads
-- The campaign's lock, the draft check, the delete and the stats in one round trip
-- (leads/sql/functions/delete_campaign_leads.sql says what comes back). Every lead of the
-- campaign when lead_ids is null.
SELECT deleted.deleted, deleted.stats
FROM delete_campaign_leads(
    p_workspace_id => %(workspace_id)s,
    p_campaign_id => %(campaign_id)s,
    p_lead_ids => %(lead_ids)s::uuid[]
) AS deleted;

-- name: matching_suppressions
-- The entry matching each identity, if any (leads/sql/functions/matching_suppressions.sql).
SELECT matching.n, matching.id, matching.kind, matching.value, matching.reason,
       matching.note, matching.created_at
FROM matching_suppressions(
    %(workspace_id)s, %(emails)s::text[], %(linkedin_urls)s::text[],
    %(ascii_domains)s::text[]
) AS matching;

-- name: add_suppressions
-- The insert, the ids of the entries the list held already and, when asked, the removal of
-- the leads they match from the draft rosters in one round trip
-- (leads/sql/functions/add_suppressions.sql says what comes back).
SELECT added.existing, added.removed
FROM add_suppressions(
    p_workspace_id => %(workspace_id)s,
    p_entries => %(entries)s::json,
    p_remove_from_drafts => %(remove_from_drafts)s
) AS added;

-- name: list_suppressions
-- One page of the suppression list in list order (oldest first, ties by id) after a
-- position, with the total of the filter in the same snapshot; a null filter is no filter.
-- `q` is a substring of the value, compared in lowercase (strpos: no pattern characters).
WITH filtered AS (
    SELECT suppressions.id, suppressions.kind, suppressions.value, suppressions.reason,
           suppressions.note, suppressions.created_at
    FROM suppressions
    WHERE suppressions.workspace_id = %(workspace_id)s
      AND (%(kind)s::suppression_kind IS NULL OR suppressions.kind = %(kind)s::suppression_kind)
      AND (%(q)s::text IS NULL OR strpos(lower(suppressions.value), lower(%(q)s::text)) > 0)
)
SELECT (SELECT count(*) FROM filtered) AS total, page.*
FROM (
    SELECT filtered.* FROM filtered
    WHERE (filtered.created_at, filtered.id)
          > (coalesce(%(after_created_at)s::timestamptz, '-infinity'),
             coalesce(%(after_id)s::uuid, '00000000-0000-0000-0000-000000000000'))
    ORDER BY filtered.created_at, filtered.id
    LIMIT %(page_size)s + 1
) AS page
RIGHT JOIN (SELECT) AS always ON true
ORDER BY page.created_at, page.id;

-- name: delete_suppressions
-- Entries of other workspaces, and ids that are no entry, are skipped.
DELETE FROM suppressions
WHERE workspace_id = %(workspace_id)s AND id = ANY (%(ids)s::uuid[])
RETURNING id;

-- name: record_event
-- The event of a write, last in its transaction (leads/sql/functions/record_event.sql).
SELECT record_event(%(workspace_id)s, %(type)s, %(campaign_id)s, %(data)s::json);

-- name: list_events
-- One page of the workspace's feed after a position, in position order (commit order),
-- optionally of one type; with the last position purged, which the caller compares with
-- its cursor (410), and the last position given. A workspace without events has no row in
-- event_positions: the outer join still answers one row.
SELECT positions.purged_through, positions.last_position, page.position, page.id,
       page.type, page.occurred_at, page.campaign_id, page.data
FROM (SELECT) AS always
LEFT JOIN event_positions AS positions ON positions.workspace_id = %(workspace_id)s
LEFT JOIN LATERAL (
    SELECT events.position, events.id, events.type, events.occurred_at, events.campaign_id,
           events.data
    FROM events
    WHERE events.workspace_id = %(workspace_id)s
      AND events.position > greatest(%(after)s, positions.purged_through)
      AND (%(type)s::text IS NULL OR events.type = %(type)s::text)
    ORDER BY events.position
    LIMIT %(limit)s
) AS page ON true
ORDER BY page.position;

-- name: purge_events
-- Every event up to the last one older than the retention, per workspace (a contiguous
-- prefix of each feed, so that purged_through says exactly what is gone).
WITH horizon AS (
    SELECT events.workspace_id, max(events.position) AS through
    FROM events
    WHERE events.occurred_at <= now() - %(retention)s::interval
    GROUP BY events.workspace_id
),
purged AS (
    DELETE FROM events USING horizon
    WHERE events.workspace_id = horizon.workspace_id AND events.position <= horizon.through
    RETURNING events.workspace_id
),
moved AS (
    UPDATE event_positions AS positions
    SET purged_through = greatest(positions.purged_through, horizon.through)
    FROM horizon
    WHERE positions.workspace_id = horizon.workspace_id
)
SELECT count(*) AS purged FROM purged;

-- name: lock_workspace_webhooks
-- Held until the transaction ends: creations of a workspace's webhooks one at a time.
SELECT lock_workspace(%(workspace_id)s, 'webhooks', true);

-- name: create_webhook
-- No row when the workspace has `limit` webhooks already. The new endpoint's deliveries
-- start after the last position of the feed committed so far.
INSERT INTO webhook_endpoints (workspace_id, id, url, description, event_types, secret,
                               fanned_out_through)
SELECT %(workspace_id)s, %(id)s, %(url)s, %(description)s, %(event_types)s::text[],
       %(secret)s,
       coalesce((SELECT positions.last_position FROM event_positions AS positions
                 WHERE positions.workspace_id = %(workspace_id)s), 0)
WHERE (SELECT count(*) FROM webhook_endpoints
       WHERE webhook_endpoints.workspace_id = %(workspace_id)s) < %(limit)s
RETURNING id, url, description, event_types, enabled, failing_since, created_at, updated_at;

-- name: list_webhooks
SELECT id, url, description, event_types, enabled, failing_since, created_at, updated_at
FROM webhook_endpoints
WHERE workspace_id = %(workspace_id)s
ORDER BY created_at, id;

-- name: get_webhook
SELECT id, url, description, event_types, enabled, failing_since, created_at, updated_at
FROM webhook_endpoints
WHERE workspace_id = %(workspace_id)s AND id = %(id)s;

-- name: lock_webhook
SELECT enabled
FROM webhook_endpoints
WHERE workspace_id = %(workspace_id)s AND id = %(id)s
FOR UPDATE;

-- name: update_webhook
-- Null url and event_types keep theirs. Enabling starts the deliveries after the feed's
-- last committed position, and forgets the failures.
UPDATE webhook_endpoints AS endpoint
SET url = coalesce(%(url)s, endpoint.url),
    event_types = coalesce(%(event_types)s::text[], endpoint.event_types),
    description = CASE WHEN %(set_description)s THEN %(description)s
                       ELSE endpoint.description END,
    enabled = %(enabled)s,
    fanned_out_through = CASE WHEN %(enabling)s THEN
            coalesce((SELECT positions.last_position FROM event_positions AS positions
                      WHERE positions.workspace_id = endpoint.workspace_id), 0)
        ELSE endpoint.fanned_out_through END,
    failing_since = CASE WHEN %(enabling)s THEN NULL ELSE endpoint.failing_since END,
    updated_at = now()
WHERE endpoint.workspace_id = %(workspace_id)s AND endpoint.id = %(id)s
RETURNING id, url, description, event_types, enabled, failing_since, created_at, updated_at;

-- name: hold_pending_deliveries
-- A disabled endpoint's pending deliveries wait, unscheduled, until it is enabled again.
UPDATE webhook_deliveries
SET next_attempt_at = NULL
WHERE workspace_id = %(workspace_id)s AND endpoint_id = %(endpoint_id)s
  AND state = 'pending';

-- name: schedule_pending_deliveries
-- An enabled endpoint's pending deliveries: due now, each with a new retry window.
UPDATE webhook_deliveries
SET next_attempt_at = now(),
    retry_until = now() + make_interval(secs => %(retry_window)s)
WHERE workspace_id = %(workspace_id)s AND endpoint_id = %(endpoint_id)s
  AND state = 'pending';

-- name: delete_webhook
-- Its deliveries go with it (ON DELETE CASCADE), once an attempt in flight has ended.
DELETE FROM webhook_endpoints
WHERE workspace_id = %(workspace_id)s AND id = %(id)s
RETURNING id;

-- name: rotate_webhook_secret
UPDATE webhook_endpoints
SET previous_secret = secret,
    previous_secret_until = now() + make_interval(secs => %(grace)s),
    secret = %(secret)s,
    updated_at = now()
WHERE workspace_id = %(workspace_id)s AND id = %(id)s
RETURNING id, url, description, event_types, enabled, failing_since, created_at, updated_at;

-- name: list_webhook_deliveries
-- One page of an endpoint's deliveries, newest event first, below the position `before`.
SELECT deliveries.id, events.id AS event_id, events.type AS event_type, deliveries.state,
       deliveries.attempts, deliveries.last_status_code, deliveries.last_error,
       deliveries.last_attempt_at, deliveries.next_attempt_at, deliveries.created_at,
       deliveries.event_position
FROM webhook_deliveries AS deliveries
JOIN events ON events.workspace_id = deliveries.workspace_id
           AND events.position = deliveries.event_position
WHERE deliveries.workspace_id = %(workspace_id)s
  AND deliveries.endpoint_id = %(endpoint_id)s
  AND (%(before)s::bigint IS NULL OR deliveries.event_position < %(before)s::bigint)
ORDER BY deliveries.event_position DESC
LIMIT %(limit)s;

-- name: retry_webhook_delivery
-- Due now. A pending delivery keeps its retry window; a delivered or failed one gets one
-- attempt (its window ends now).
WITH retried AS (
    UPDATE webhook_deliveries AS deliveries
    SET next_attempt_at = now(),
        retry_until = CASE WHEN deliveries.state = 'pending' THEN deliveries.retry_until
                           ELSE now() END,
        state = 'pending'
    WHERE deliveries.workspace_id = %(workspace_id)s
      AND deliveries.endpoint_id = %(endpoint_id)s
      AND deliveries.id = %(id)s
    RETURNING deliveries.*
)
SELECT retried.id, events.id AS event_id, events.type AS event_type, retried.state,
       retried.attempts, retried.last_status_code, retried.last_error,
       retried.last_attempt_at, retried.next_attempt_at, retried.created_at
FROM retried
JOIN events ON events.workspace_id = retried.workspace_id
           AND events.position = retried.event_position;

-- name: fan_out_webhook_events
-- The worker's fan-out: for up to `endpoints` enabled endpoints behind their workspace's
-- feed, a delivery for each of the next `events` events of their types, and the endpoint's
-- position moved past them. One snapshot reads the feed's last position and its events:
-- positions follow commit order without gaps (record_event.sql), so every event up to the
-- last position read is there, and moving up to it skips none. Endpoints that another
-- worker is fanning out are skipped.
WITH due AS (
    SELECT endpoint.workspace_id, endpoint.id, endpoint.event_types,
           endpoint.fanned_out_through AS after_position,
           least(positions.last_position, endpoint.fanned_out_through + %(events)s)
               AS through_position
    FROM webhook_endpoints AS endpoint
    JOIN event_positions AS positions ON positions.workspace_id = endpoint.workspace_id
    WHERE endpoint.enabled AND endpoint.fanned_out_through < positions.last_position
    LIMIT %(endpoints)s
    FOR UPDATE OF endpoint SKIP LOCKED
),
created AS (
    INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_position,
                                    next_attempt_at, retry_until)
    SELECT due.workspace_id, gen_random_uuid(), due.id, events.position, now(),
           now() + make_interval(secs => %(retry_window)s)
    FROM due
    JOIN events ON events.workspace_id = due.workspace_id
               AND events.position > due.after_position
               AND events.position <= due.through_position
    WHERE due.event_types = ARRAY['*'] OR events.type = ANY (due.event_types)
    ON CONFLICT DO NOTHING
    RETURNING 1
),
moved AS (
    UPDATE webhook_endpoints AS endpoint
    SET fanned_out_through = due.through_position
    FROM due
    WHERE endpoint.workspace_id = due.workspace_id AND endpoint.id = due.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) AS endpoints, (SELECT count(*) FROM created) AS created;

-- name: claim_webhook_delivery
-- The delivery due first that no other worker holds, locked until the claiming
-- transaction ends (after its attempt): each delivery is attempted by one worker at a
-- time, and one whose worker died is due again. With its endpoint and its event, each read
-- by its primary key once the delivery is claimed: joined before the claim, the planner
-- may find the event by workspace alone (on a feed whose statistics are not yet gathered,
-- it expects a few events a workspace), and read every event before it, each claim more.
WITH claimed AS MATERIALIZED (
    SELECT deliveries.workspace_id, deliveries.id, deliveries.endpoint_id,
           deliveries.event_position, deliveries.attempts
    FROM webhook_deliveries AS deliveries
    WHERE deliveries.state = 'pending' AND deliveries.next_attempt_at <= now()
      AND EXISTS (
          SELECT FROM webhook_endpoints AS endpoint
          WHERE endpoint.workspace_id = deliveries.workspace_id
            AND endpoint.id = deliveries.endpoint_id AND endpoint.enabled
      )
    ORDER BY deliveries.next_attempt_at
    LIMIT 1
    FOR UPDATE OF deliveries SKIP LOCKED
)
SELECT claimed.workspace_id, claimed.id AS delivery_id, claimed.endpoint_id,
       claimed.attempts, endpoint.url, endpoint.secret,
       CASE WHEN endpoint.previous_secret_until > now() THEN endpoint.previous_secret END
           AS previous_secret,
       endpoint.failing_since, event.id, event.type, event.occurred_at,
       event.campaign_id, event.data
FROM claimed
CROSS JOIN LATERAL (
    SELECT webhook_endpoints.url, webhook_endpoints.secret,
           webhook_endpoints.previous_secret, webhook_endpoints.previous_secret_until,
           webhook_endpoints.failing_since
    FROM webhook_endpoints
    WHERE webhook_endpoints.workspace_id = claimed.workspace_id
      AND webhook_endpoints.id = claimed.endpoint_id
    LIMIT 1  -- one row (the primary key); the LIMIT keeps it a probe of that key
) AS endpoint
CROSS JOIN LATERAL (
    SELECT events.id, events.type, events.occurred_at, events.campaign_id, events.data
    FROM events
    WHERE events.workspace_id = claimed.workspace_id
      AND events.position = claimed.event_position
    LIMIT 1  -- as above
) AS event;

-- name: record_webhook_attempt
-- The attempt's outcome, in the claiming transaction. A failure is attempted again
-- `delay` seconds after this answer, unless that comes after its retry window: then the
-- delivery has failed.
WITH attempt AS (
    SELECT clock_timestamp() + make_interval(secs => %(delay)s) AS next_at
)
UPDATE webhook_deliveries AS deliveries
SET attempts = deliveries.attempts + 1,
    last_attempt_at = now(),
    last_status_code = %(status_code)s,
    last_error = %(error)s,
    state = CASE WHEN %(delivered)s THEN 'delivered'
                 WHEN attempt.next_at > deliveries.retry_until THEN 'failed'
                 ELSE 'pending' END::webhook_delivery_state,
    next_attempt_at = CASE WHEN NOT %(delivered)s AND attempt.next_at <= deliveries.retry_until
                           THEN attempt.next_at END
FROM attempt
WHERE deliveries.workspace_id = %(workspace_id)s AND deliveries.id = %(id)s
RETURNING deliveries.state;

-- name: note_webhook_success
-- An endpoint that answered is no longer failing.
UPDATE webhook_endpoints
SET failing_since = NULL
WHERE workspace_id = %(workspace_id)s AND id = %(id)s AND failing_since IS NOT NULL;

-- name: note_webhook_failure
-- An endpoint whose attempts have all failed since `window` seconds ago is disabled; else
-- the first failure is noted. The row is written only when one of them changes.
UPDATE webhook_endpoints AS endpoint
SET failing_since = coalesce(endpoint.failing_since, now()),
    enabled = endpoint.failing_since IS NULL
              OR endpoint.failing_since > now() - make_interval(secs => %(window)s),
    updated_at = CASE WHEN endpoint.failing_since IS NULL THEN endpoint.updated_at
                      ELSE now() END
WHERE endpoint.workspace_id = %(workspace_id)s AND endpoint.id = %(id)s AND endpoint.enabled
  AND (endpoint.failing_since IS NULL
       OR endpoint.failing_since <= now() - make_interval(secs => %(window)s))
RETURNING endpoint.enabled;

-- name: webhook_queue
-- The deliveries waiting for a worker (not those of disabled endpoints), and how long the
-- oldest of them has waited.
SELECT count(*) AS pending,
       coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_age
FROM webhook_deliveries
WHERE state = 'pending' AND next_attempt_at IS NOT NULL;

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
