-- Lifecycle: each robot's history, append-only and hash-chained
-- (docs/lifecycle.md), and the head of each chain with the robot's state.

-- One row per event. Each event's hash commits to the one before
-- (prev_hash), so a history read back can be checked; the CA signs the
-- head when it exports one. Rows are never changed or deleted.
CREATE TABLE lifecycle_events (
    robot_id   TEXT    NOT NULL REFERENCES robots (robot_id),
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('manufactured', 'sold', 'deployed',
                   'maintenance', 'component_replaced', 'recall_hold', 'recall_release',
                   'decommissioned', 'recycled')),
    payload    TEXT    NOT NULL,
    prev_hash  BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash       BLOB    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (robot_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER lifecycle_events_no_update BEFORE UPDATE ON lifecycle_events
BEGIN
    SELECT RAISE(ABORT, 'lifecycle_events is append-only');
END;
CREATE TRIGGER lifecycle_events_no_delete BEFORE DELETE ON lifecycle_events
BEGIN
    SELECT RAISE(ABORT, 'lifecycle_events is append-only');
END;

-- The last event of each robot's chain and the state it left the robot in:
-- the row an append reads and moves forward in its transaction.
CREATE TABLE lifecycle_heads (
    robot_id    TEXT    PRIMARY KEY REFERENCES robots (robot_id),
    seq         INTEGER NOT NULL,
    hash        BLOB    NOT NULL CHECK (length(hash) = 32),
    state       TEXT    NOT NULL CHECK (state IN ('manufactured', 'sold', 'in_service',
                    'held', 'decommissioned', 'recycled')),
    updated_at  INTEGER NOT NULL,
    FOREIGN KEY (robot_id, seq) REFERENCES lifecycle_events (robot_id, seq)
) STRICT;

-- A head only moves forward, and a recycled robot's never moves again.
CREATE TRIGGER lifecycle_heads_forward BEFORE UPDATE ON lifecycle_heads
WHEN NEW.seq <> OLD.seq + 1 OR OLD.state = 'recycled'
BEGIN
    SELECT RAISE(ABORT, 'lifecycle head moves forward one event at a time, never after recycling');
END;
CREATE TRIGGER lifecycle_heads_no_delete BEFORE DELETE ON lifecycle_heads
BEGIN
    SELECT RAISE(ABORT, 'lifecycle heads are never deleted');
END;

-- No certificate for a robot whose life has ended. The enrollment API
-- refuses such a re-issue with a problem document first; this catches a
-- re-issue racing the decommissioning. Only re-issues are looked at, so a
-- production batch of new robots pays nothing.
CREATE TRIGGER certificates_not_after_decommission BEFORE INSERT ON certificates
WHEN NEW.reissue = 1 AND (SELECT state FROM lifecycle_heads WHERE robot_id = NEW.robot_id)
    IN ('decommissioned', 'recycled')
BEGIN
    SELECT RAISE(ABORT, 'lifecycle.decommissioned: no certificate for a decommissioned or recycled robot');
END;
