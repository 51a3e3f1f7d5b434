-- The domains that a `domain` entry of the suppression list may name to match an email
-- (the suppression rule, see matching_suppressions.sql): the email's domain and each parent
-- of it that has a dot, the longest first, with its depth (1 for the domain itself).
-- a@eu.acme.com gives eu.acme.com (1) and acme.com (2); never com, nor notacme.com's names.
-- p_ascii_domain is the IDNA form of the email's domain when that is not ASCII
-- (leads/domain/identity.py's ascii_email_domain), null otherwise; else the domain is what
-- follows the last @ of the (normalized) email.
--
-- Inlined into the statements that call it. The labels are numbered by unnest, which the
-- planner expects to give a few rows an email, where generate_series is expected to give
-- 1000: a batch of 1000 emails would look like a million candidates to probe
-- (matching_suppressions), and the statement costly enough to be JIT-compiled, which takes
-- longer than running it.
CREATE OR REPLACE FUNCTION email_domains(p_email text, p_ascii_domain text)
RETURNS TABLE (domain text, depth integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_to_string(parts.labels[label.depth:], '.'), label.depth::integer
    FROM (
        SELECT string_to_array(coalesce(p_ascii_domain, split_part(p_email, '@', -1)), '.')
            AS labels
    ) AS parts,
    unnest(parts.labels) WITH ORDINALITY AS label (name, depth)
    WHERE label.depth < cardinality(parts.labels);
$$;
