-- Where each poller got to, per source and shop: the next poll resumes from here after a restart.
CREATE TABLE IF NOT EXISTS poll_checkpoints (
    source     text        NOT NULL,
    shop_id    text        NOT NULL,
    cursor     text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, shop_id)
);
