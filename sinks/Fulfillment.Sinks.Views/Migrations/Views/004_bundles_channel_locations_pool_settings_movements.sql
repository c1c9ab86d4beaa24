-- Operator state added with the schemas' BundleDefined/BundleRemoved, ChannelLocationsSet and PoolSettingsSet, and the
-- inventory ledger (StockMoved on the stock-levels topic). States keep the newest (version_at, version_event_id);
-- movements are facts keyed by event id.

CREATE TABLE bundles (
    pool_id          text        NOT NULL,
    bundle_sku       text        NOT NULL,
    components       jsonb       NOT NULL, -- [{"sku": ..., "quantity": ...}]; empty once removed
    removed          boolean     NOT NULL,
    version_at       timestamptz NOT NULL,
    version_event_id text        NOT NULL,
    PRIMARY KEY (pool_id, bundle_sku)
);

CREATE TABLE channel_locations (
    pool_id          text        NOT NULL,
    channel          text        NOT NULL,
    shop_id          text        NOT NULL, -- '*' = every shop of the channel
    all_locations    boolean     NOT NULL, -- mapping removed: every location may serve the channel
    location_ids     text[]      NOT NULL,
    version_at       timestamptz NOT NULL,
    version_event_id text        NOT NULL,
    PRIMARY KEY (pool_id, channel, shop_id)
);

CREATE TABLE pool_settings (
    pool_id          text        PRIMARY KEY,
    allow_oversell   boolean     NOT NULL,
    allow_split      boolean     NOT NULL,
    backorder_policy text        NOT NULL,
    version_at       timestamptz NOT NULL,
    version_event_id text        NOT NULL
);

CREATE TABLE stock_movements (
    event_id      text        PRIMARY KEY,
    pool_id       text        NOT NULL,
    sku           text        NOT NULL,
    location_id   text        NOT NULL,
    kind          text        NOT NULL,
    quantity      int         NOT NULL,
    on_hand_after int         NOT NULL,
    reference     text        NOT NULL,
    reason_code   text,
    moved_at      timestamptz NOT NULL
);
CREATE INDEX stock_movements_cell ON stock_movements (pool_id, sku, location_id, moved_at);
