-- The outbox is read oldest first by its primary key instead: ids are UUIDv7, whose leading 48 bits are the creation
-- time in milliseconds, so "created before T" is a range of the primary key. Every stored delivery then costs one index
-- entry in the outbox instead of two (bench webhooks: the group commit is most of Postgres' CPU per request).
DROP INDEX IF EXISTS raw_unpublished_received;
ALTER TABLE raw_unpublished DROP COLUMN IF EXISTS received_at;
