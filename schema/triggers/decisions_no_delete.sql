-- The healer's decisions and their reasons are the explanation of what it did: never deleted.
CREATE TRIGGER decisions_no_delete
BEFORE DELETE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions is append-only: a recorded decision cannot be deleted');
END;
