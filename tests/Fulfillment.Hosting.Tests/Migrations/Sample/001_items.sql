-- Not idempotent on purpose: applying it twice fails, so a test sees any double application.
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
