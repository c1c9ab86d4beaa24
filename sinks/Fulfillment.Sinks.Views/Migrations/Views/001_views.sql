-- Views schema (name chosen at run time: the live sink uses "views", replay --verify builds a fresh one beside it).
-- Applied with search_path set to that schema, so nothing here names a schema.
--
-- Conventions, relied on by replay --verify:
--   * every base table is a deterministic function of the topics it is fed from;
--   * columns named sunk_at (wall clock at write) or src_* (Kafka position of the source record, used only to break
--     ties between events with the same timestamp) legitimately differ between a live run and a rebuild and are left
--     out of every diff by name;
--   * derived figures that depend on "now" (ages, freshness, reporting) are SQL views, not tables.

CREATE TABLE sink_offsets (
    consumer    text   NOT NULL,
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);

-- One row per event seen on any consumed topic: the audit timeline's index.
CREATE TABLE events (
    event_id       text        PRIMARY KEY,
    topic          text        NOT NULL,
    kind           text        NOT NULL,
    pool_id        text        NOT NULL,
    correlation_id text        NOT NULL,
    causation_id   text        NOT NULL,
    source_system  text        NOT NULL,
    source_id      text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    summary        text        NOT NULL, -- JSON; text because the audit only displays it and jsonb parsing costs the sink
    sunk_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_correlation ON events (correlation_id);
CREATE INDEX events_causation ON events (causation_id);

-- Records that could not be decoded: kept and visible, never a stopped partition (ARCHITECTURE.md decision 7).
CREATE TABLE sink_rejects (
    topic        text NOT NULL,
    partition    int  NOT NULL,
    kafka_offset bigint NOT NULL,
    error        text NOT NULL,
    PRIMARY KEY (topic, partition, kafka_offset)
);

CREATE TABLE orders (
    order_id            text        PRIMARY KEY,
    pool_id             text        NOT NULL,
    channel             text,
    shop_id             text,
    channel_order_id    text,
    order_number        text,
    channel_status      text,
    fulfillment_channel text,
    service_level       text,
    currency            text,
    ship_country        text,
    priority            int,
    placed_at           timestamptz,
    latest_ship_at      timestamptz,
    -- occurred_at and event id of the order state applied; null while only a cancellation is known.
    version_at          timestamptz,
    version_event_id    text,
    cancelled_at        timestamptz,
    cancel_reason       text,
    status              text        NOT NULL DEFAULT 'open',
    sync_state          text        NOT NULL DEFAULT 'not_pushed',
    sunk_at             timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX orders_pool_status ON orders (pool_id, status);

CREATE TABLE order_lines (
    order_id   text    NOT NULL,
    line_id    text    NOT NULL,
    sku        text    NOT NULL,
    quantity   int     NOT NULL,
    unit_price numeric(18,4),
    PRIMARY KEY (order_id, line_id)
);

CREATE TABLE allocation_decisions (
    allocation_id text        PRIMARY KEY,
    order_id      text        NOT NULL,
    pool_id       text        NOT NULL,
    rule_trail    text[]      NOT NULL,
    decided_at    timestamptz NOT NULL,
    event_id      text        NOT NULL
);
CREATE INDEX allocation_decisions_order ON allocation_decisions (order_id);

CREATE TABLE allocation_lines (
    allocation_id text        NOT NULL,
    line_id       text        NOT NULL,
    location_id   text        NOT NULL,
    order_id      text        NOT NULL,
    pool_id       text        NOT NULL,
    sku           text        NOT NULL,
    quantity      int         NOT NULL,
    decided_at    timestamptz NOT NULL,
    PRIMARY KEY (allocation_id, line_id, location_id)
);
CREATE INDEX allocation_lines_order ON allocation_lines (order_id);

-- Releases are facts of their own (keyed by the releasing event), so a duplicate release cannot count twice.
CREATE TABLE allocation_releases (
    event_id      text        NOT NULL,
    line_id       text        NOT NULL,
    location_id   text        NOT NULL,
    allocation_id text        NOT NULL,
    order_id      text        NOT NULL,
    sku           text        NOT NULL,
    quantity      int         NOT NULL,
    reason        text        NOT NULL,
    released_at   timestamptz NOT NULL,
    PRIMARY KEY (event_id, line_id, location_id)
);
CREATE INDEX allocation_releases_order ON allocation_releases (order_id);

CREATE TABLE backorders (
    order_id        text        NOT NULL,
    line_id         text        NOT NULL,
    pool_id         text        NOT NULL,
    sku             text        NOT NULL,
    quantity        int         NOT NULL,
    reason          text,
    rule_trail      text[]      NOT NULL,
    first_backordered_at timestamptz NOT NULL,
    version_at      timestamptz NOT NULL,
    version_event_id text       NOT NULL,
    PRIMARY KEY (order_id, line_id)
);

CREATE TABLE shipments (
    shipment_id      text        PRIMARY KEY,
    order_id         text        NOT NULL,
    pool_id          text        NOT NULL,
    channel          text        NOT NULL,
    shop_id          text        NOT NULL,
    channel_order_id text        NOT NULL,
    location_id      text        NOT NULL,
    carrier          text        NOT NULL,
    service          text,
    tracking_number  text,
    tracking_url     text,
    shipped_at       timestamptz NOT NULL,
    version_event_id text        NOT NULL
);
CREATE INDEX shipments_order ON shipments (order_id);

CREATE TABLE shipment_lines (
    shipment_id text NOT NULL,
    line_id     text NOT NULL,
    order_id    text NOT NULL,
    sku         text NOT NULL,
    quantity    int  NOT NULL,
    PRIMARY KEY (shipment_id, line_id)
);
CREATE INDEX shipment_lines_order ON shipment_lines (order_id);

CREATE TABLE tracking (
    carrier          text        NOT NULL,
    tracking_number  text        NOT NULL,
    status           text        NOT NULL,
    raw_status       text        NOT NULL,
    status_detail    text,
    shipment_id      text,
    order_id         text,
    estimated_delivery_at timestamptz,
    status_at        timestamptz NOT NULL,
    version_event_id text        NOT NULL,
    PRIMARY KEY (carrier, tracking_number)
);

CREATE TABLE channel_push_attempts (
    event_id       text        PRIMARY KEY,
    push_id        text        NOT NULL,
    pool_id        text        NOT NULL,
    correlation_id text        NOT NULL,
    channel        text        NOT NULL,
    shop_id        text        NOT NULL,
    operation      text        NOT NULL,
    target_id      text        NOT NULL,
    attempt        int         NOT NULL,
    outcome        text        NOT NULL,
    http_status    int,
    error          text,
    next_attempt_at timestamptz,
    attempted_at   timestamptz NOT NULL
);
CREATE INDEX channel_push_attempts_correlation ON channel_push_attempts (correlation_id);

CREATE TABLE channel_pushes (
    push_id        text        PRIMARY KEY,
    pool_id        text        NOT NULL,
    correlation_id text        NOT NULL,
    channel        text        NOT NULL,
    shop_id        text        NOT NULL,
    operation      text        NOT NULL,
    target_id      text        NOT NULL,
    attempts       int         NOT NULL,
    outcome        text        NOT NULL,
    http_status    int,
    error          text,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz NOT NULL,
    version_event_id text      NOT NULL
);
CREATE INDEX channel_pushes_correlation ON channel_pushes (correlation_id);

CREATE TABLE stock_levels (
    pool_id      text        NOT NULL,
    sku          text        NOT NULL,
    location_id  text        NOT NULL,
    on_hand      int         NOT NULL,
    allocated    int         NOT NULL,
    safety_stock int         NOT NULL,
    available    int         NOT NULL,
    in_transit   int         NOT NULL,
    channel_available_to_sell jsonb NOT NULL,
    changed_at   timestamptz NOT NULL,
    event_id     text        NOT NULL,
    src_partition int        NOT NULL,
    src_offset   bigint      NOT NULL,
    sunk_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (pool_id, sku, location_id)
);
CREATE INDEX stock_levels_sku ON stock_levels (sku);

CREATE TABLE stock_drift (
    event_id          text        PRIMARY KEY,
    pool_id           text        NOT NULL,
    sku               text        NOT NULL,
    location_id       text        NOT NULL,
    expected_on_hand  int         NOT NULL,
    reported_on_hand  int         NOT NULL,
    drift             int         NOT NULL,
    detected_by       text        NOT NULL,
    detected_at       timestamptz NOT NULL
);

-- Each transfer event owns its own columns, so the row is the same whatever order the three events arrive in.
CREATE TABLE transfers (
    transfer_id      text        PRIMARY KEY,
    pool_id          text        NOT NULL,
    from_location_id text        NOT NULL,
    to_location_id   text        NOT NULL,
    requested_at     timestamptz,
    shipped_at       timestamptz,
    received_at      timestamptz,
    carrier          text,
    tracking_number  text
);

CREATE TABLE transfer_lines (
    transfer_id       text NOT NULL,
    sku               text NOT NULL,
    requested_quantity int,
    shipped_quantity  int,
    received_quantity int,
    PRIMARY KEY (transfer_id, sku)
);

CREATE TABLE dead_letters (
    event_id         text        PRIMARY KEY,
    pool_id          text        NOT NULL,
    correlation_id   text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition int         NOT NULL,
    source_offset    bigint      NOT NULL,
    reason           text        NOT NULL,
    error_type       text        NOT NULL,
    consumer_group   text,
    failed_at        timestamptz NOT NULL
);

CREATE TABLE locations (
    pool_id          text        NOT NULL,
    location_id      text        NOT NULL,
    name             text        NOT NULL,
    kind             text        NOT NULL,
    active           boolean     NOT NULL,
    country_code     text,
    countries_served text[]      NOT NULL,
    priority         int         NOT NULL,
    provider         text,
    version_at       timestamptz NOT NULL,
    version_event_id text        NOT NULL,
    PRIMARY KEY (pool_id, location_id)
);

CREATE TABLE routing_rules (
    pool_id          text        NOT NULL,
    channel          text        NOT NULL,
    shop_id          text        NOT NULL, -- '*' = every shop of the channel
    rules            jsonb       NOT NULL,
    allow_split      boolean     NOT NULL,
    version_at       timestamptz NOT NULL,
    version_event_id text        NOT NULL,
    PRIMARY KEY (pool_id, channel, shop_id)
);

CREATE TABLE safety_stock (
    pool_id          text        NOT NULL,
    sku              text        NOT NULL,
    location_id      text        NOT NULL, -- '*' = pool-wide default
    quantity         int         NOT NULL,
    version_at       timestamptz NOT NULL,
    version_event_id text        NOT NULL,
    PRIMARY KEY (pool_id, sku, location_id)
);

-- Derived read models -------------------------------------------------------------------------------------------

CREATE VIEW order_line_progress AS
SELECT l.order_id, l.line_id, l.sku, l.quantity,
       COALESCE((SELECT sum(a.quantity) FROM allocation_lines a WHERE a.order_id = l.order_id AND a.line_id = l.line_id), 0)
     - COALESCE((SELECT sum(r.quantity) FROM allocation_releases r WHERE r.order_id = l.order_id AND r.line_id = l.line_id), 0)
       AS allocated_quantity,
       COALESCE((SELECT sum(s.quantity) FROM shipment_lines s WHERE s.order_id = l.order_id AND s.line_id = l.line_id), 0)
       AS shipped_quantity
FROM order_lines l;

CREATE VIEW stock_by_sku AS
SELECT pool_id, sku, sum(on_hand) AS on_hand, sum(allocated) AS allocated, sum(safety_stock) AS safety_stock,
       sum(available) AS available, sum(in_transit) AS in_transit, count(*) AS locations, max(changed_at) AS last_changed_at
FROM stock_levels GROUP BY pool_id, sku;

CREATE VIEW stock_by_location AS
SELECT pool_id, location_id, count(*) AS skus, sum(on_hand) AS on_hand, sum(allocated) AS allocated,
       sum(available) AS available, sum(in_transit) AS in_transit, max(changed_at) AS last_changed_at,
       max(sunk_at) AS last_sunk_at
FROM stock_levels GROUP BY pool_id, location_id;

-- Open backorders: lines still short of allocation on orders that are not cancelled.
CREATE VIEW open_backorders AS
SELECT b.pool_id, b.order_id, b.line_id, b.sku, b.quantity, b.reason, b.rule_trail, b.first_backordered_at,
       now() - b.first_backordered_at AS age
FROM backorders b
JOIN orders o ON o.order_id = b.order_id AND o.cancelled_at IS NULL
JOIN order_line_progress p ON p.order_id = b.order_id AND p.line_id = b.line_id
WHERE p.allocated_quantity < p.quantity;

-- Per location and UTC day: orders and units allocated and shipped, fill rate (units shipped / units allocated),
-- split rate (share of the orders allocated here whose allocation also used another location).
CREATE VIEW location_daily AS
WITH alloc AS (
    SELECT a.pool_id, a.location_id, (a.decided_at AT TIME ZONE 'UTC')::date AS day,
           count(DISTINCT a.order_id) AS orders_allocated, sum(a.quantity) AS units_allocated,
           count(DISTINCT a.order_id) FILTER (WHERE EXISTS (
               SELECT 1 FROM allocation_lines o WHERE o.order_id = a.order_id AND o.location_id <> a.location_id)) AS split_orders
    FROM allocation_lines a GROUP BY 1, 2, 3),
ship AS (
    SELECT s.pool_id, s.location_id, (s.shipped_at AT TIME ZONE 'UTC')::date AS day,
           count(DISTINCT s.order_id) AS orders_shipped, sum(l.quantity) AS units_shipped
    FROM shipments s JOIN shipment_lines l ON l.shipment_id = s.shipment_id GROUP BY 1, 2, 3)
SELECT COALESCE(a.pool_id, s.pool_id) AS pool_id, COALESCE(a.location_id, s.location_id) AS location_id,
       COALESCE(a.day, s.day) AS day,
       COALESCE(a.orders_allocated, 0) AS orders_allocated, COALESCE(a.units_allocated, 0) AS units_allocated,
       COALESCE(s.orders_shipped, 0) AS orders_shipped, COALESCE(s.units_shipped, 0) AS units_shipped,
       CASE WHEN COALESCE(a.units_allocated, 0) = 0 THEN NULL
            ELSE round(COALESCE(s.units_shipped, 0)::numeric / a.units_allocated, 4) END AS fill_rate,
       CASE WHEN COALESCE(a.orders_allocated, 0) = 0 THEN NULL
            ELSE round(a.split_orders::numeric / a.orders_allocated, 4) END AS split_rate
FROM alloc a FULL JOIN ship s ON s.pool_id = a.pool_id AND s.location_id = a.location_id AND s.day = a.day;

-- Per location now: open backorder age (pool-wide backorders are not per location, so they are reported per pool
-- beside each location) and stock freshness (how long since the last stock change reached this table).
CREATE VIEW location_health AS
SELECT l.pool_id, l.location_id, l.skus, l.on_hand, l.available,
       now() - l.last_changed_at AS since_last_stock_change,
       now() - l.last_sunk_at    AS since_last_stock_write,
       (SELECT max(b.age) FROM open_backorders b WHERE b.pool_id = l.pool_id) AS oldest_open_backorder_age,
       (SELECT count(*) FROM open_backorders b WHERE b.pool_id = l.pool_id) AS open_backorder_lines
FROM stock_by_location l;
