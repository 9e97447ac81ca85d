-- Every signed transaction for a transfer's nonce: the original (seq 1,
-- written by Submit), fee bumps and cancels (AddAttempt). Any of them may
-- be the one that lands, so each is recorded before it is sent.
--
-- hash is UNIQUE across all transfers: a signed transaction belongs to one
-- transfer. transactions.hash always names one of the transfer's own
-- attempts (the original until Settle names the one that landed), so the
-- two UNIQUE constraints never disagree.
--
-- gas_tip_cap and gas_fee_cap are NULL together when the quote is not
-- known: attempts backfilled below, from before quotes were stored.
--
-- A rowid table rather than WITHOUT ROWID: rows carry the raw signed
-- transaction, larger than WITHOUT ROWID tables are meant for.
CREATE TABLE attempts (
	transaction_id INTEGER NOT NULL REFERENCES transactions (id),
	seq            INTEGER NOT NULL CHECK (seq >= 1),
	hash           BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
	raw            BLOB    NOT NULL,
	gas_limit      INTEGER NOT NULL CHECK (gas_limit >= 0),
	gas_tip_cap    BLOB             CHECK (gas_tip_cap IS NULL OR length(gas_tip_cap) = 32),
	gas_fee_cap    BLOB             CHECK (gas_fee_cap IS NULL OR length(gas_fee_cap) = 32),
	cancel         INTEGER NOT NULL CHECK (cancel IN (0, 1)),
	created_at     INTEGER NOT NULL,
	PRIMARY KEY (transaction_id, seq),
	CHECK ((gas_tip_cap IS NULL) = (gas_fee_cap IS NULL))
) STRICT;

-- Transfers stored before this migration get their one known attempt, so
-- Attempts never returns an empty list. Its quote was not stored: gas
-- limit 0, caps NULL. raw is copied as it is, without the checks new
-- attempts get, so that no old row can make this migration (and Open)
-- fail.
INSERT INTO attempts (transaction_id, seq, hash, raw, gas_limit, gas_tip_cap, gas_fee_cap, cancel, created_at)
	SELECT id, 1, hash, raw, 0, NULL, NULL, 0, created_at FROM transactions;
