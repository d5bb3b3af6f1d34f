-- The healer's decisions and their reasons are the explanation of what it did: never rewritten.
CREATE TRIGGER decisions_no_update
BEFORE UPDATE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions is append-only: a recorded decision cannot be changed');
END;
