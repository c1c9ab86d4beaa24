-- Durable copies for the embedded stack (schema "durable"): the development broker keeps nothing across restarts, so
-- what cannot be re-derived — raw deliveries, operator commands and the outcomes of pushes to channels — is kept here
-- and re-produced into an empty broker by the re-seed routine (Fulfillment.Sinks.Views.Durable.Reseeder).

-- Records exactly as they were on their topic (key, value bytes in Confluent wire format, headers, timestamp), one per
-- (topic, event id), in arrival order (seq).
CREATE TABLE topic_archive (
    seq          bigserial   NOT NULL UNIQUE,
    topic        text        NOT NULL,
    event_id     text        NOT NULL,
    pool_id      text        NOT NULL,
    key          bytea,
    value        bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '[]',
    timestamp_ms bigint      NOT NULL,
    archived_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, event_id)
);

-- The REST API's command ledger: idempotency and "follow this id".
CREATE TABLE operator_commands (
    command_id      text        PRIMARY KEY,
    tenant          text        NOT NULL,
    idempotency_key text,
    request_hash    text        NOT NULL,
    kind            text        NOT NULL,
    topic           text        NOT NULL,
    pool_id         text        NOT NULL,
    event_id        text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    produced_at     timestamptz
);
CREATE UNIQUE INDEX operator_commands_idempotency ON operator_commands (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
