-- The inventory processor's AllocationDecided is the order's complete allocation after each decision, under one
-- allocation id per order (its backorder fills, re-allocations after stock loss and order updates repeat it). So a
-- decision replaces the lines of the previous one instead of adding to them: the newest decision wins, where newest is
-- the processor's own order, (recorded_at, src_offset): recorded_at is its stream time (monotonic per pool and the
-- same after a re-seed), the offset orders the outputs of one input. Keeping the first decision per allocation id (as
-- before) made the rows depend on how records fell into batches: a fill read in the same batch as the first decision
-- was dropped, in a later batch it was added.
-- Releases stay facts; only those after the allocation's current decision still reduce it (a release that the processor
-- follows with a new decision, as it does for every cause but a cancellation, is already in that decision).
ALTER TABLE allocation_decisions ADD COLUMN recorded_at timestamptz;
ALTER TABLE allocation_decisions ADD COLUMN src_partition int NOT NULL DEFAULT -1;
ALTER TABLE allocation_decisions ADD COLUMN src_offset bigint NOT NULL DEFAULT -1;
UPDATE allocation_decisions SET recorded_at = decided_at;
ALTER TABLE allocation_decisions ALTER COLUMN recorded_at SET NOT NULL;

ALTER TABLE allocation_releases ADD COLUMN recorded_at timestamptz;
ALTER TABLE allocation_releases ADD COLUMN src_partition int NOT NULL DEFAULT -1;
ALTER TABLE allocation_releases ADD COLUMN src_offset bigint NOT NULL DEFAULT -1;
UPDATE allocation_releases SET recorded_at = released_at;
ALTER TABLE allocation_releases ALTER COLUMN recorded_at SET NOT NULL;
CREATE INDEX allocation_releases_allocation ON allocation_releases (allocation_id);

-- Releases that came after their allocation's current decision (what still reduces it).
CREATE VIEW allocation_releases_open AS
SELECT r.*
FROM allocation_releases r
JOIN allocation_decisions d ON d.allocation_id = r.allocation_id
WHERE (r.recorded_at, r.src_offset) > (d.recorded_at, d.src_offset);

CREATE OR REPLACE VIEW order_line_progress AS
SELECT l.order_id, l.line_id, l.sku, l.quantity,
       COALESCE((SELECT sum(a.quantity) FROM allocation_lines a WHERE a.order_id = l.order_id AND a.line_id = l.line_id), 0)
     - COALESCE((SELECT sum(r.quantity) FROM allocation_releases_open r WHERE r.order_id = l.order_id AND r.line_id = l.line_id), 0)
       AS allocated_quantity,
       COALESCE((SELECT sum(s.quantity) FROM shipment_lines s WHERE s.order_id = l.order_id AND s.line_id = l.line_id), 0)
       AS shipped_quantity
FROM order_lines l;
