-- The workspace-wide rules, as transaction-level advisory locks keyed by the
-- workspace (another workspace whose key collides only waits, it is never wrong):
--
-- 'suppressions': every write that puts an identity into a roster (an add, a change of a
--   lead) holds it shared; an add to the suppression list that removes its entries from
--   the draft rosters holds it exclusive. So either the lead's write commits first and the
--   removal, which waits for it, sees the lead; or the suppression entry commits first and
--   the lead's write, which waited, sees the entry (each statement after the lock reads
--   what committed before it).
-- 'dedupe': an add with dedupe workspace or live holds it exclusive, so no two such adds
--   decide at once that an identity is in no other campaign.
-- 'webhooks': a webhook's creation holds it exclusive, so that no two creations count the
--   workspace's webhooks at once and pass its limit together.
--
-- Every writer takes the locks it needs in this order (suppressions, dedupe, then the
-- campaign's row in lock_draft_campaign), so that no two writers wait for each other.
CREATE OR REPLACE FUNCTION lock_workspace(
    p_workspace_id uuid,
    p_rule text,
    p_exclusive boolean
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    rule_key integer := CASE p_rule
        WHEN 'suppressions' THEN 1 WHEN 'dedupe' THEN 2 WHEN 'webhooks' THEN 3 END;
    workspace_key integer := hashtext(p_workspace_id::text);
BEGIN
    IF rule_key IS NULL THEN
        RAISE EXCEPTION 'unknown workspace rule %', p_rule;
    END IF;
    IF p_exclusive THEN
        PERFORM pg_advisory_xact_lock(rule_key, workspace_key);
    ELSE
        PERFORM pg_advisory_xact_lock_shared(rule_key, workspace_key);
    END IF;
END;
$$;
