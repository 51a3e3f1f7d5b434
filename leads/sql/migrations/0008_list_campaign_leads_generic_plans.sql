-- list_campaign_leads (migration 0007) keeps one plan per statement for the session: a
-- generic plan, made without the call's values.
--
-- PL/pgSQL plans a statement with each call's values for its first five calls, then keeps
-- a generic plan only when the planner's estimate of it is not much higher than theirs.
-- The page's statement never qualified: its LIMIT is a parameter, and a generic plan
-- estimates an unknown LIMIT as a tenth of the campaign's leads, against 201 rows for a
-- plan that knows the value. So the page statement was planned again on every call:
-- 0.07-0.1 ms of a page of 200 (docs/PERFORMANCE.md, seventh round), for the same index
-- scan each time.
--
-- The generic plans are safe to keep whatever the values: every statement that reads leads
-- is a range scan of a list-order index bounded by the campaign, the status and the
-- position (tests/test_list_plans.py checks the plans of every shape of call, and that
-- they give the pages that plans made with the values give). The setting holds inside the
-- function only; the previous release's replicas call the same function, unchanged.
ALTER FUNCTION list_campaign_leads(bytea, uuid, lead_status, timestamptz, uuid, bigint, integer)
    SET plan_cache_mode = force_generic_plan;
