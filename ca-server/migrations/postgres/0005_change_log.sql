-- The change log (see the SQLite file for the why).
CREATE TABLE change_log (
    seq         BIGINT PRIMARY KEY CHECK (seq > 0),
    at          BIGINT NOT NULL,
    kind        TEXT   NOT NULL CHECK (kind IN ('issued', 'superseded', 'revoked',
                    'held', 'released', 'lifecycle')),
    robot_id    TEXT   NOT NULL,
    serial_hex  TEXT
);
CREATE FUNCTION change_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the change log is append-only';
END
$$;
CREATE TRIGGER change_log_guard BEFORE UPDATE OR DELETE ON change_log
    FOR EACH ROW EXECUTE FUNCTION change_log_guard();
CREATE TRIGGER change_log_no_truncate BEFORE TRUNCATE ON change_log
    FOR EACH STATEMENT EXECUTE FUNCTION change_log_guard();

-- The sequencer: its row lock orders every server's appends as they commit.
CREATE TABLE change_log_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    size  BIGINT  NOT NULL CHECK (size >= 0)
);
INSERT INTO change_log_head (id, size) VALUES (1, 0);
CREATE FUNCTION change_log_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') OR NEW.size < OLD.size THEN
        RAISE EXCEPTION 'the change log never shrinks';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER change_log_head_guard BEFORE UPDATE OR DELETE ON change_log_head
    FOR EACH ROW EXECUTE FUNCTION change_log_head_guard();
CREATE TRIGGER change_log_head_no_truncate BEFORE TRUNCATE ON change_log_head
    FOR EACH STATEMENT EXECUTE FUNCTION change_log_head_guard();
