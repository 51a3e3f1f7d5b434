-- The domains that a `domain` entry of the suppression list may name to match an email
-- (the suppression rule, see matching_suppressions.sql): the email's domain and each parent
-- of it that has a dot, the longest first, with its depth (1 for the domain itself).
-- a@eu.acme.com gives eu.acme.com (1) and acme.com (2); never com, nor notacme.com's names.
-- p_ascii_domain is the IDNA form of the email's domain when that is not ASCII
-- (leads/domain/identity.py's ascii_email_domain), null otherwise.
CREATE OR REPLACE FUNCTION email_domains(p_email text, p_ascii_domain text)
RETURNS TABLE (domain text, depth integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_to_string(parts.labels[depth:], '.'), depth
    FROM (
        SELECT string_to_array(
                   coalesce(p_ascii_domain, substring(p_email FROM '@([^@]+)$')), '.'
               ) AS labels
    ) AS parts,
    generate_series(1, cardinality(parts.labels) - 1) AS depth;
$$;
