-- An event's data is stored out of line without compression: a feed is written once per
-- write and read by pollers, and the ids an event names (up to 1000 uuids as text) are
-- compressed by the default method (pglz) slowly and poorly, at a cost that the write
-- whose transaction records the event pays.
-- depends: 0004_webhooks

ALTER TABLE events ALTER COLUMN data SET STORAGE EXTERNAL;
