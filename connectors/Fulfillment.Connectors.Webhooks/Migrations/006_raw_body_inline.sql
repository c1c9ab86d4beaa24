-- A Shopify order (about 3 KB of JSON) compresses with lz4 to about 1.5 KB, but together with the headers and the other
-- columns the row still exceeded the 2 KB toast target, so Postgres moved the compressed body out of line: a second tuple
-- in the toast table, a toast index entry and a new OID (an index probe) for every delivery. That was the largest part of
-- the group commit's CPU (bench webhooks: toast_save_datum ~28% of the writer backends). MAIN storage still compresses
-- but keeps values in the row unless even the compressed row exceeds a page. Every variable-length column gets it: while
-- the row is above the 2 KB target, Postgres first moves any EXTENDED value over 24 bytes out of line (the 36-byte
-- delivery id would get a toast tuple of its own), and only then compresses MAIN ones.
-- Applies to rows stored from now on; reads are unchanged.
ALTER TABLE raw_deliveries
    ALTER COLUMN source SET STORAGE MAIN,
    ALTER COLUMN delivery_id SET STORAGE MAIN,
    ALTER COLUMN status SET STORAGE MAIN,
    ALTER COLUMN shop_id SET STORAGE MAIN,
    ALTER COLUMN pool_id SET STORAGE MAIN,
    ALTER COLUMN transport SET STORAGE MAIN,
    ALTER COLUMN event_type SET STORAGE MAIN,
    ALTER COLUMN request_method SET STORAGE MAIN,
    ALTER COLUMN request_path SET STORAGE MAIN,
    ALTER COLUMN route_shop SET STORAGE MAIN,
    ALTER COLUMN content_type SET STORAGE MAIN,
    ALTER COLUMN headers SET STORAGE MAIN,
    ALTER COLUMN body SET STORAGE MAIN,
    ALTER COLUMN rejection_reason SET STORAGE MAIN;
