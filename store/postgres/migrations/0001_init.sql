-- Money is wei in NUMERIC(78,0): exact, and wide enough for the whole
-- uint256 range, which the wei domain enforces. Addresses (20 bytes) and
-- hashes (32 bytes) are raw bytes. Times are timestamptz (microseconds).

CREATE DOMAIN wei AS NUMERIC(78, 0)
	CHECK (VALUE >= 0 AND VALUE <= 115792089237316195423570985008687907853269984665640564039457584007913129639935);

CREATE TABLE accounts (
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	available  wei         NOT NULL,
	current    wei         NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	-- The database itself refuses an inverted balance; wei refuses a
	-- negative one.
	CONSTRAINT accounts_available_le_current CHECK (available <= current)
);

-- One row per applied deposit: the reference makes Credit idempotent.
CREATE TABLE credits (
	account_id BIGINT      NOT NULL REFERENCES accounts (id),
	reference  TEXT        NOT NULL,
	amount     wei         NOT NULL CHECK (amount > 0),
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (account_id, reference)
);

CREATE TABLE transactions (
	id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id      BIGINT      NOT NULL REFERENCES accounts (id),
	sender          BYTEA       NOT NULL CHECK (length(sender) = 20),
	recipient       BYTEA       NOT NULL CHECK (length(recipient) = 20),
	amount          wei         NOT NULL CHECK (amount > 0),
	fee_total       wei         NOT NULL,
	fee_blockchain  wei,
	nonce           BIGINT      NOT NULL CHECK (nonce >= 0),
	hash            BYTEA       NOT NULL UNIQUE CHECK (length(hash) = 32),
	raw             BYTEA       NOT NULL CHECK (length(raw) > 0),
	status          TEXT        NOT NULL CHECK (status IN ('PENDING', 'SUCCESSFUL', 'FAILED')),
	version         BIGINT      NOT NULL,
	idempotency_key TEXT,
	block_number    BIGINT      NOT NULL DEFAULT 0 CHECK (block_number >= 0),
	block_hash      BYTEA       CHECK (length(block_hash) = 32),
	checks          INTEGER     NOT NULL DEFAULT 0 CHECK (checks >= 0),
	next_check_at   TIMESTAMPTZ,
	-- Spent its check budget: still PENDING, checked on a slow schedule.
	parked          BOOLEAN     NOT NULL DEFAULT false,
	created_at      TIMESTAMPTZ NOT NULL,
	updated_at      TIMESTAMPTZ NOT NULL,
	CONSTRAINT transactions_sender_nonce UNIQUE (sender, nonce)
);

CREATE INDEX transactions_account ON transactions (account_id, id);
-- Partial: only PENDING rows, so the sweeper's index stays as small as the
-- work in flight however long the history grows.
CREATE INDEX transactions_due ON transactions (id, next_check_at) WHERE status = 'PENDING';
CREATE INDEX transactions_parked ON transactions (id, next_check_at) WHERE status = 'PENDING' AND parked;

-- The next nonce handed out per sending address. Submit locks its row
-- and moves it on in the transaction that stores the transfers.
CREATE TABLE nonces (
	sender BYTEA  PRIMARY KEY CHECK (length(sender) = 20),
	next   BIGINT NOT NULL CHECK (next >= 0)
);

-- A submit's idempotency key and what it led to: a transaction or a
-- rejection (error_code), never both. Unique per account.
CREATE TABLE idempotency (
	account_id     BIGINT      NOT NULL REFERENCES accounts (id),
	key            TEXT        NOT NULL,
	request_hash   BYTEA       NOT NULL CHECK (length(request_hash) = 32),
	transaction_id BIGINT      REFERENCES transactions (id),
	error_code     TEXT,
	created_at     TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (account_id, key),
	CHECK ((transaction_id IS NULL) <> (error_code IS NULL))
);

-- Every signed transaction for a transfer's nonce: the original (seq 1,
-- written by Submit), fee bumps and cancels (AddAttempt). The caps are
-- NULL together when the quote is not known.
CREATE TABLE attempts (
	transaction_id BIGINT      NOT NULL REFERENCES transactions (id),
	seq            INTEGER     NOT NULL CHECK (seq >= 1),
	hash           BYTEA       NOT NULL UNIQUE CHECK (length(hash) = 32),
	raw            BYTEA       NOT NULL CHECK (length(raw) > 0),
	gas_limit      BIGINT      NOT NULL CHECK (gas_limit >= 0),
	gas_tip_cap    wei,
	gas_fee_cap    wei,
	cancel         BOOLEAN     NOT NULL,
	created_at     TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (transaction_id, seq),
	CHECK ((gas_tip_cap IS NULL) = (gas_fee_cap IS NULL))
);

-- The outbox: written with the status change it describes.
CREATE TABLE events (
	id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	type           TEXT        NOT NULL,
	transaction_id BIGINT      NOT NULL REFERENCES transactions (id),
	account_id     BIGINT      NOT NULL REFERENCES accounts (id),
	status         TEXT        NOT NULL,
	created_at     TIMESTAMPTZ NOT NULL,
	sent_at        TIMESTAMPTZ
);

CREATE INDEX events_unsent ON events (id) WHERE sent_at IS NULL;
