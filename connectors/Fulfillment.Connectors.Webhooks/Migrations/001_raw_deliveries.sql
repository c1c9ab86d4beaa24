-- Every inbound delivery, accepted or rejected, byte for byte (ARCHITECTURE.md decisions 4 and 7). The development
-- broker keeps nothing across restarts, so this table is the durable copy of the raw topic; raw_unpublished (003) is the
-- outbox that feeds it. Rows are never updated.
CREATE TABLE IF NOT EXISTS raw_deliveries (
    id                 uuid PRIMARY KEY,
    source             text        NOT NULL,
    delivery_id        text        NOT NULL,
    -- Signature verified and body understood. Only these take part in deduplication, so a forged or broken delivery
    -- can never shadow a genuine one carrying the same id.
    accepted           boolean     NOT NULL,
    status             text        NOT NULL,
    shop_id            text,
    pool_id            text,
    transport          text        NOT NULL,
    event_type         text,
    request_method     text,
    request_path       text,
    route_shop         text,
    content_type       text,
    headers            jsonb       NOT NULL,
    body               bytea       NOT NULL,
    received_at        timestamptz NOT NULL,
    signature_verified boolean     NOT NULL,
    rejection_reason   text
);

CREATE UNIQUE INDEX IF NOT EXISTS raw_deliveries_dedupe ON raw_deliveries (source, delivery_id) WHERE accepted;
