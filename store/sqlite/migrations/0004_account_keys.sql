-- Keys that make creating an account safe to repeat: an account created
-- with a key is found again by it, so a retried request does not open a
-- second account.
CREATE TABLE account_keys (
	key        TEXT    PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
	account_id INTEGER NOT NULL UNIQUE REFERENCES accounts (id)
) STRICT, WITHOUT ROWID;
