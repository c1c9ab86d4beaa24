-- The outbox: ids of stored deliveries whose raw record and normalized events are not yet acknowledged by Kafka. A row
-- is added in the same statement that stores the delivery and deleted once Kafka acknowledged every record; the sweeper
-- republishes what is left. A narrow queue instead of a published_at column on raw_deliveries: marking a delivery
-- published then deletes a 40-byte tuple instead of rewriting the whole stored delivery (body included) and its indexes.
CREATE TABLE IF NOT EXISTS raw_unpublished (
    id          uuid        PRIMARY KEY,
    received_at timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS raw_unpublished_received ON raw_unpublished (received_at);

-- Databases created before this script: move the unpublished marks over, then drop the column (and its partial index).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'raw_deliveries' AND column_name = 'published_at') THEN
        INSERT INTO raw_unpublished (id, received_at)
            SELECT id, received_at FROM raw_deliveries WHERE published_at IS NULL
            ON CONFLICT (id) DO NOTHING;
        ALTER TABLE raw_deliveries DROP COLUMN published_at;
    END IF;
END
$$;
