-- A stock level is the processor's state of one cell after some input; the newest is the one it wrote last, which is
-- the order of its stream time (recorded_at, monotonic per pool) and then the offset, not the business time of the
-- input (changed_at = the input's occurred_at): a late webhook with an older occurred_at, processed after a receipt,
-- still produced the cell's current level, and keeping the older-looking row left available stock stale.
ALTER TABLE stock_levels ADD COLUMN recorded_at timestamptz;
UPDATE stock_levels SET recorded_at = changed_at;
ALTER TABLE stock_levels ALTER COLUMN recorded_at SET NOT NULL;
