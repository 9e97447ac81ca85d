-- Money is a 32-byte big-endian unsigned integer (uint256) in a BLOB: SQLite
-- INTEGER is 64-bit and overflows at 9.22 ETH. Equal-length big-endian blobs
-- compare like the numbers they hold, so CHECK constraints can compare them.
-- Times are unix nanoseconds. Addresses (20 bytes) and hashes (32 bytes) are
-- raw bytes.

CREATE TABLE accounts (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	available  BLOB    NOT NULL CHECK (length(available) = 32),
	current    BLOB    NOT NULL CHECK (length(current) = 32),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	CHECK (available <= current)
) STRICT;

-- One row per applied deposit: the reference makes Credit idempotent.
CREATE TABLE credits (
	account_id INTEGER NOT NULL REFERENCES accounts (id),
	reference  TEXT    NOT NULL,
	amount     BLOB    NOT NULL CHECK (length(amount) = 32),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (account_id, reference)
) STRICT, WITHOUT ROWID;

-- AUTOINCREMENT: IDs are never reused, even if rows are ever archived.
CREATE TABLE transactions (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id      INTEGER NOT NULL REFERENCES accounts (id),
	sender          BLOB    NOT NULL CHECK (length(sender) = 20),
	recipient       BLOB    NOT NULL CHECK (length(recipient) = 20),
	amount          BLOB    NOT NULL CHECK (length(amount) = 32),
	fee_total       BLOB    NOT NULL CHECK (length(fee_total) = 32),
	fee_blockchain  BLOB             CHECK (fee_blockchain IS NULL OR length(fee_blockchain) = 32),
	nonce           INTEGER NOT NULL CHECK (nonce >= 0),
	hash            BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
	raw             BLOB    NOT NULL,
	status          TEXT    NOT NULL CHECK (status IN ('PENDING', 'SUCCESSFUL', 'FAILED')),
	version         INTEGER NOT NULL,
	idempotency_key TEXT,
	block_number    INTEGER NOT NULL DEFAULT 0 CHECK (block_number >= 0),
	block_hash      BLOB             CHECK (block_hash IS NULL OR length(block_hash) = 32),
	checks          INTEGER NOT NULL DEFAULT 0 CHECK (checks >= 0),
	next_check_at   INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	UNIQUE (sender, nonce)
) STRICT;

CREATE INDEX transactions_account ON transactions (account_id, id);
CREATE INDEX transactions_due ON transactions (id, next_check_at) WHERE status = 'PENDING';

-- The next nonce handed out per sending address.
CREATE TABLE nonces (
	sender BLOB    PRIMARY KEY CHECK (length(sender) = 20),
	next   INTEGER NOT NULL CHECK (next >= 0)
) STRICT, WITHOUT ROWID;

-- A submit's idempotency key and what it led to: a transaction or a
-- rejection (error_code), never both.
CREATE TABLE idempotency (
	account_id     INTEGER NOT NULL REFERENCES accounts (id),
	key            TEXT    NOT NULL,
	request_hash   BLOB    NOT NULL CHECK (length(request_hash) = 32),
	transaction_id INTEGER REFERENCES transactions (id),
	error_code     TEXT,
	created_at     INTEGER NOT NULL,
	PRIMARY KEY (account_id, key),
	CHECK ((transaction_id IS NULL) <> (error_code IS NULL))
) STRICT, WITHOUT ROWID;

-- The outbox: written with the status change it describes.
CREATE TABLE events (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	type           TEXT    NOT NULL,
	transaction_id INTEGER NOT NULL REFERENCES transactions (id),
	account_id     INTEGER NOT NULL REFERENCES accounts (id),
	status         TEXT    NOT NULL,
	created_at     INTEGER NOT NULL,
	sent_at        INTEGER
) STRICT;

CREATE INDEX events_unsent ON events (id) WHERE sent_at IS NULL;
