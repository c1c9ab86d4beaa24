-- Schemas are global and immutable: one row per distinct (type, canonical text), ids never reused.
CREATE TABLE registry.schemas (
    id          integer     PRIMARY KEY,
    schema_type text        NOT NULL,
    schema_text text        NOT NULL,
    fingerprint bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A subject is its list of versions; soft delete keeps the row (Confluent semantics), permanent delete removes it.
CREATE TABLE registry.subject_versions (
    subject    text        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    schema_id  integer     NOT NULL REFERENCES registry.schemas (id),
    deleted    boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, version)
);

CREATE INDEX subject_versions_schema_id ON registry.subject_versions (schema_id);

-- Compatibility configuration; subject '' is the global level.
CREATE TABLE registry.config (
    subject       text        PRIMARY KEY,
    compatibility text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
