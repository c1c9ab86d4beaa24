-- The audit index (events) now has its own offsets track, "<consumer>.audit" (ViewWriter). Until this script, events
-- were written in the same transaction as the view rows, so the audit track starts where each consumer already is
-- instead of re-reading every topic from the beginning.
INSERT INTO sink_offsets (consumer, topic, partition, next_offset)
SELECT consumer || '.audit', topic, partition, next_offset FROM sink_offsets
WHERE consumer NOT LIKE '%.audit'
ON CONFLICT DO NOTHING;
