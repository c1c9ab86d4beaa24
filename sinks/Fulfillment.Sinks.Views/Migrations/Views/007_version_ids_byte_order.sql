-- "Latest wins" breaks ties between versions of the same time by event id (and a cancellation's by its reason). The
-- sink reduces a batch in memory with ordinal (byte) order and the database compares across batches with the column's
-- collation; under a linguistic collation (en_US in the compose image) the two orders differ, so which version won
-- depended on how records fell into batches. Byte order in both places makes it depend on the records alone.
DO $$
DECLARE c record;
BEGIN
  FOR c IN SELECT table_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND column_name = 'version_event_id'
             AND table_name IN (SELECT table_name FROM information_schema.tables
                                WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')
  LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN version_event_id TYPE text COLLATE "C"', c.table_name);
  END LOOP;
END $$;
ALTER TABLE orders ALTER COLUMN cancel_reason TYPE text COLLATE "C";
