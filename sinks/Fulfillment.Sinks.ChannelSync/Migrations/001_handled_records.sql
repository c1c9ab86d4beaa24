-- Channel sync's own durable memory of which source records it has finished with (every push they caused reached a
-- final outcome: pushed, already on the channel, not applicable, dead-lettered). Kafka's committed offsets say the same
-- thing, but only as long as the broker keeps them: the embedded stack's development broker starts empty after a restart
-- and is re-seeded, the processor re-derives the same shipment and stock-level events with the same event ids, and
-- this table is what stops them from being pushed to the channels a second time.
CREATE TABLE handled_records (
    topic      text        NOT NULL,
    event_id   text        NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, event_id)
);
