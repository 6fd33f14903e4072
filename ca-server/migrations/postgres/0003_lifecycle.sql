-- Lifecycle: each robot's history, append-only and hash-chained
-- (docs/lifecycle.md), and the head of each chain with the robot's state.
-- Same tables as migrations/sqlite/0003_lifecycle.sql.

CREATE TABLE lifecycle_events (
    robot_id   TEXT   NOT NULL REFERENCES robots (robot_id),
    seq        BIGINT NOT NULL CHECK (seq >= 1),
    at         BIGINT NOT NULL,
    actor      TEXT   NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('manufactured', 'sold', 'deployed',
                   'maintenance', 'component_replaced', 'recall_hold', 'recall_release',
                   'decommissioned', 'recycled')),
    payload    TEXT   NOT NULL,
    prev_hash  BYTEA  NOT NULL CHECK (length(prev_hash) = 32),
    hash       BYTEA  NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (robot_id, seq)
);

CREATE FUNCTION lifecycle_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'lifecycle_events is append-only';
END
$$;
CREATE TRIGGER lifecycle_events_guard BEFORE UPDATE OR DELETE ON lifecycle_events
    FOR EACH ROW EXECUTE FUNCTION lifecycle_events_guard();
CREATE TRIGGER lifecycle_events_no_truncate BEFORE TRUNCATE ON lifecycle_events
    FOR EACH STATEMENT EXECUTE FUNCTION lifecycle_events_guard();

CREATE TABLE lifecycle_heads (
    robot_id    TEXT   PRIMARY KEY REFERENCES robots (robot_id),
    seq         BIGINT NOT NULL,
    hash        BYTEA  NOT NULL CHECK (length(hash) = 32),
    state       TEXT   NOT NULL CHECK (state IN ('manufactured', 'sold', 'in_service',
                    'held', 'decommissioned', 'recycled')),
    updated_at  BIGINT NOT NULL,
    FOREIGN KEY (robot_id, seq) REFERENCES lifecycle_events (robot_id, seq)
);

CREATE FUNCTION lifecycle_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'lifecycle heads are never deleted';
    END IF;
    IF NEW.seq <> OLD.seq + 1 OR OLD.state = 'recycled' THEN
        RAISE EXCEPTION 'lifecycle head moves forward one event at a time, never after recycling';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER lifecycle_heads_guard BEFORE UPDATE OR DELETE ON lifecycle_heads
    FOR EACH ROW EXECUTE FUNCTION lifecycle_heads_guard();
CREATE TRIGGER lifecycle_heads_no_truncate BEFORE TRUNCATE ON lifecycle_heads
    FOR EACH STATEMENT EXECUTE FUNCTION lifecycle_heads_guard();

-- No certificate for a robot whose life has ended (see the SQLite file).
-- The WHEN clause keeps new-robot batches from calling the function at all.
CREATE FUNCTION certificates_not_after_decommission() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT state FROM lifecycle_heads WHERE robot_id = NEW.robot_id)
            IN ('decommissioned', 'recycled') THEN
        RAISE EXCEPTION 'lifecycle.decommissioned: no certificate for a decommissioned or recycled robot';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER certificates_not_after_decommission BEFORE INSERT ON certificates
    FOR EACH ROW WHEN (NEW.reissue = 1) EXECUTE FUNCTION certificates_not_after_decommission();
