-- A stored delivery (a 3–5 KB JSON body) is larger than Postgres' 2 KB TOAST threshold, so every insert compresses the
-- body. pglz, the default, was the largest single CPU cost of the group commit (bench webhooks: ~10% of the Postgres
-- backends' time); lz4 compresses JSON about as well for a fraction of the CPU. Applies to rows stored from now on.
ALTER TABLE raw_deliveries ALTER COLUMN body SET COMPRESSION lz4, ALTER COLUMN headers SET COMPRESSION lz4;
