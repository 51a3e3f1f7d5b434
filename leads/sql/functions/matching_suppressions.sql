-- The suppression rule, once: which entry of a workspace's suppression list matches each of
-- a list of identities. The n-th identity is p_emails[n] and p_linkedin_urls[n] (either may
-- be null), both normalized as leads/domain/identity.py does, and p_ascii_domains[n], the
-- IDNA form of the email's domain when that is not ASCII (ascii_email_domain; null
-- otherwise). The three arrays have one length. An email matches an `email` entry of the
-- same value, and a `domain` entry of its domain or of a parent domain of it
-- (email_domains: acme.com matches a@acme.com and a@eu.acme.com, never a@notacme.com); a
-- LinkedIn URL matches a `linkedin_url` entry of the same value.
--
-- One row per identity that matches, with its position n (from 1) and the entry; when
-- several entries match, the most specific: the email entry, then the LinkedIn URL entry,
-- then the longest matching domain. Each candidate value is one probe of the unique index
-- (workspace_id, kind, value): the cost grows with the batch, never with the list.
CREATE OR REPLACE FUNCTION matching_suppressions(
    p_workspace_id uuid,
    p_emails text[],
    p_linkedin_urls text[],
    p_ascii_domains text[]
) RETURNS TABLE (
    n bigint, id uuid, kind suppression_kind, value text, reason suppression_reason,
    note text, created_at timestamptz
)
LANGUAGE sql STABLE AS $$
    WITH identities AS (
        SELECT given.n, given.email, given.linkedin_url, given.ascii_domain
        FROM unnest(p_emails, p_linkedin_urls, p_ascii_domains) WITH ORDINALITY
             AS given (email, linkedin_url, ascii_domain, n)
    ),
    candidates AS (
        SELECT identities.n, 'email'::suppression_kind AS kind, identities.email AS value,
               0 AS rank
        FROM identities WHERE identities.email IS NOT NULL
        UNION ALL
        SELECT identities.n, 'linkedin_url', identities.linkedin_url, 1
        FROM identities WHERE identities.linkedin_url IS NOT NULL
        UNION ALL
        SELECT identities.n, 'domain', domains.domain, 1 + domains.depth
        FROM identities, email_domains(identities.email, identities.ascii_domain) AS domains
    )
    SELECT DISTINCT ON (candidates.n)
           candidates.n, entry.id, entry.kind, entry.value, entry.reason, entry.note,
           entry.created_at
    FROM candidates
    CROSS JOIN LATERAL (
        -- At most one entry (the unique key); the LIMIT keeps this a probe of the index
        -- per candidate, where the planner would otherwise join the whole list by hash
        -- and read every entry of the workspace.
        SELECT suppressions.id, suppressions.kind, suppressions.value, suppressions.reason,
               suppressions.note, suppressions.created_at
        FROM suppressions
        WHERE suppressions.workspace_id = p_workspace_id
          AND suppressions.kind = candidates.kind AND suppressions.value = candidates.value
        LIMIT 1
    ) AS entry
    ORDER BY candidates.n, candidates.rank;
$$;
