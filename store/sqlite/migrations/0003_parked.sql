-- A parked transaction has spent its check budget. It stays PENDING, its
-- funds held, and is checked again on a slow schedule until it is final:
-- parked marks it, next_check_at holds its next slow check.
ALTER TABLE transactions ADD COLUMN parked INTEGER NOT NULL DEFAULT 0 CHECK (parked IN (0, 1));

-- Transactions parked before this migration were off the schedule for
-- good (next_check_at NULL): they are due for a check at once.
UPDATE transactions SET parked = 1, next_check_at = 0
	WHERE status = 'PENDING' AND next_check_at IS NULL;

CREATE INDEX transactions_parked ON transactions (id, next_check_at)
	WHERE status = 'PENDING' AND parked = 1;
