-- The change log: every change that what relying parties are told depends
-- on (a certificate issued, superseded, revoked, held or released; a
-- lifecycle event), each with a dense, gap-free index assigned in the
-- change's own transaction, in the order the changes committed. Servers
-- follow it by index, never by time, so a late commit or a skewed clock
-- loses nothing (decision 0028).
CREATE TABLE change_log (
    seq         INTEGER PRIMARY KEY CHECK (seq > 0),
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('issued', 'superseded', 'revoked',
                    'held', 'released', 'lifecycle')),
    robot_id    TEXT    NOT NULL,
    serial_hex  TEXT
) STRICT;
CREATE TRIGGER change_log_no_update BEFORE UPDATE ON change_log
BEGIN
    SELECT RAISE(ABORT, 'the change log is append-only');
END;
CREATE TRIGGER change_log_no_delete BEFORE DELETE ON change_log
BEGIN
    SELECT RAISE(ABORT, 'the change log is append-only');
END;

-- The sequencer: the log's size, advanced by the transaction that appends,
-- last before it commits. Its row lock (on PostgreSQL; SQLite's write lock
-- here) orders the appends of every server as they commit, so an index is
-- never visible before a smaller one.
CREATE TABLE change_log_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    size  INTEGER NOT NULL CHECK (size >= 0)
) STRICT;
INSERT INTO change_log_head (id, size) VALUES (1, 0);
CREATE TRIGGER change_log_head_forward BEFORE UPDATE ON change_log_head
WHEN NEW.size < OLD.size
BEGIN
    SELECT RAISE(ABORT, 'the change log never shrinks');
END;
CREATE TRIGGER change_log_head_no_delete BEFORE DELETE ON change_log_head
BEGIN
    SELECT RAISE(ABORT, 'the change log head is never deleted');
END;
