-- transactions.hash loses its UNIQUE index. A transaction's hash is NULL
-- or the hash of one of its own attempts, and attempts.hash is UNIQUE, so
-- the index refused nothing that the attempts' index does not. It cost
-- every Submit an insert at a random place in a B-tree, which is one more
-- page written to the log by nearly every Submit of a batch.
--
-- SQLite cannot drop a column's UNIQUE in place, so the table is copied
-- into one without it, as SQLite's documentation for other ALTER TABLE
-- changes describes: the migration runs with foreign keys off and checks
-- them all before it commits (see apply). IDs, the AUTOINCREMENT sequence,
-- the other constraints and the indexes are kept. The copy reads and
-- writes every transaction once.
CREATE TABLE transactions_new (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id      INTEGER NOT NULL REFERENCES accounts (id),
	sender          BLOB    NOT NULL CHECK (length(sender) = 20),
	recipient       BLOB    NOT NULL CHECK (length(recipient) = 20),
	amount          BLOB    NOT NULL CHECK (length(amount) = 32),
	fee_total       BLOB    NOT NULL CHECK (length(fee_total) = 32),
	fee_blockchain  BLOB             CHECK (fee_blockchain IS NULL OR length(fee_blockchain) = 32),
	nonce           INTEGER NOT NULL CHECK (nonce >= 0),
	hash            BLOB             CHECK (length(hash) = 32),
	raw             BLOB,
	status          TEXT    NOT NULL CHECK (status IN ('PENDING', 'SUCCESSFUL', 'FAILED')),
	version         INTEGER NOT NULL,
	idempotency_key TEXT,
	block_number    INTEGER NOT NULL DEFAULT 0 CHECK (block_number >= 0),
	block_hash      BLOB             CHECK (block_hash IS NULL OR length(block_hash) = 32),
	checks          INTEGER NOT NULL DEFAULT 0 CHECK (checks >= 0),
	next_check_at   INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	parked          INTEGER NOT NULL DEFAULT 0 CHECK (parked IN (0, 1)),
	token           BLOB             CHECK (token IS NULL OR length(token) = 20),
	UNIQUE (sender, nonce),
	CONSTRAINT signed CHECK ((hash IS NULL) = (raw IS NULL))
) STRICT;

INSERT INTO transactions_new
	(id, account_id, sender, recipient, amount, fee_total, fee_blockchain, nonce, hash, raw, status, version,
	 idempotency_key, block_number, block_hash, checks, next_check_at, created_at, updated_at, parked, token)
	SELECT id, account_id, sender, recipient, amount, fee_total, fee_blockchain, nonce, hash, raw, status, version,
	       idempotency_key, block_number, block_hash, checks, next_check_at, created_at, updated_at, parked, token
	FROM transactions ORDER BY id;

-- The sequence can be past the largest ID, if rows were ever removed from
-- the end: carry it over as it is, so no ID is ever handed out twice.
DELETE FROM sqlite_sequence WHERE name = 'transactions_new';
INSERT INTO sqlite_sequence (name, seq)
	SELECT 'transactions_new', seq FROM sqlite_sequence WHERE name = 'transactions';

DROP TABLE transactions;
ALTER TABLE transactions_new RENAME TO transactions;

CREATE INDEX transactions_account ON transactions (account_id, id);
CREATE INDEX transactions_due ON transactions (id, next_check_at) WHERE status = 'PENDING';
CREATE INDEX transactions_parked ON transactions (id, next_check_at)
	WHERE status = 'PENDING' AND parked = 1;
