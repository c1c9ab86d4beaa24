-- The audit walks the causation chain through events' primary key (event_id = causation_id of the row it came from),
-- never by causation_id, so this index only cost every event insert a B-tree update (bench freshness: the events
-- insert was the largest part of a batch's write time).
DROP INDEX IF EXISTS events_causation;
