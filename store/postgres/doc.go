// Package postgres is a consolidate.Store in a PostgreSQL database, through
// pgx (pgxpool). Any number of processes on any number of hosts may share
// one database: API processes submitting, workers settling, each with its
// own Store.
//
// # Durability
//
// Every method that changes data runs one transaction and returns once
// its COMMIT has returned. Sessions run with synchronous_commit=on (or
// stronger, if the DSN asks for remote_write or remote_apply), so a
// change that returned is in the WAL on disk, and, with
// synchronous_standby_names set on the server, on a standby too. A method
// that returns an error has changed nothing, with two documented
// exceptions: Submit records an idempotency key rejected for
// insufficient funds, so a retry gets the same answer; and an error
// wrapping ErrOutcomeUnknown (below).
//
// # Isolation and locks
//
// Transactions run at READ COMMITTED, and every decision is taken under
// a row lock on the rows it depends on: Submit locks its account rows
// (SELECT … FOR UPDATE) before it checks the funds and the idempotency
// key, and the sender's nonce row before it hands out nonces; Settle,
// AddAttempt, Note, Reschedule and Park lock the transaction's row;
// Credit the account's. At READ COMMITTED each statement that follows a lock wait
// reads the latest committed rows, so the check and the write it guards
// cannot be separated by another process's commit. SERIALIZABLE would
// protect the same decisions by aborting one of two conflicting
// transactions at commit, which under a hot account or a hot wallet (one
// nonce row for every Submit) means retry storms; row locks queue the
// conflicting transactions instead and let the others run in parallel.
// Rows are locked in one order (accounts, then nonces, each by key;
// transactions before their account), so batches of different processes
// wait for each other rather than deadlock.
//
// The database itself refuses what must never be stored: amounts are
// NUMERIC(78,0) in a domain limited to [0, 2^256 − 1], CHECK constraints
// refuse available > current and a transfer amount ≤ 0, (sender, nonce)
// and each signed hash are unique, and idempotency keys are unique per
// account.
//
// A transaction that PostgreSQL aborts as a serialization failure
// (SQLSTATE 40001) or a deadlock victim (40P01) was rolled back whole; it
// runs again, at most four times in all. No other error is retried.
//
// # Group commit
//
// Submits queue for a committer goroutine, which runs those that arrive
// while the previous batch commits (at most Options.MaxBatch) as one
// transaction in two round trips: the first begins it, locks the batch's
// accounts and nonce rows and reads their balances, idempotency keys and
// next nonces; then each Submit is decided in Go in arrival order, as if
// it ran alone (funds held, nonces handed out one after another), and
// the accepted ones are signed in parallel; the second round trip holds
// the funds, moves the nonces on, inserts the transfers with their first
// attempts, keys and events in one statement, and commits: one WAL flush
// for the batch. Other processes' batches queue on the same row locks.
// Reservations (Submits with a nil SignFunc) share batches with signed
// Submits; they are not signed, and are stored with a NULL hash and raw
// bytes and no attempt.
//
// A failed signature fails its own Submit only: the batch is decided
// again without it, so its funds and nonce go to the Submits after it and
// nonces stay gap-free. SignFunc may therefore be called more than once
// for a transfer, and from another goroutine; the store keeps the last
// signature. A Submit that reuses the idempotency key of an earlier
// Submit in its batch runs in the next batch, where it sees that
// Submit's outcome. If the batch fails on a data error, each of its
// Submits runs again alone, so the error reaches only the Submit that
// caused it.
//
// A Submit whose context ends while it is queued fails and applies
// nothing; once in a batch, it waits for the batch's outcome. The
// batch's statements are cancelled only when every Submit in it has
// given up.
//
// # Unknown commit outcomes
//
// If the connection fails after a batch's COMMIT was sent (the server
// restarted, the network dropped), the batch may or may not have
// committed. Each Submit of that batch finds out before it returns, on a
// fresh connection: it first takes a share lock on its account row, which
// the batch held from before its first write until it ended, so once the
// lock is granted that transaction has committed or rolled back for good;
// then it looks for the row only that commit could have written, the
// transfer's signed hash (unique, and made for this Submit alone) or the
// rejection recorded under its key. A reservation has no hash: its row
// is the transfer at the nonce the batch gave it that holds exactly its
// request (account, recipient, amounts, key and request hash, and its
// creation time to the microsecond), which a later Submit that took the
// nonce after a rollback does not, unless it was made alike in all of
// these. Found, the Submit returns it as if the commit had answered; not
// found, it returns an error and nothing was stored. No transfer is reported failed that was stored, and none
// is stored twice. If the database cannot be asked before the Submit's
// context ends, the error wraps ErrOutcomeUnknown; a retry with the same
// idempotency key then returns whatever happened.
//
// Options.IdleInTransactionTimeout ends a session whose client vanished
// inside a transaction, so its locks do not hold such a check (and the
// account's Submits) up until the server notices the lost client. A
// client cut off in the middle of sending a batch is noticed only
// through TCP: set the server's tcp_keepalives_idle, _interval, _count
// and tcp_user_timeout to a few seconds where clients run on other hosts.
//
// # Failures
//
// Open fails with an error naming the server if the database cannot be
// reached. A database that goes away later fails the calls that need it
// with pgx's errors (transient: retry later); the pool replaces broken
// connections, so the Store recovers by itself once the database is
// back. Every call waits for a pooled connection at most as long as its
// context allows.
//
// # Metrics
//
// Through Options.MeterProvider (OpenTelemetry; the global provider by
// default) the committer records, per run of a batch,
// consolidate.postgres.batch.submits ({submit}), the Submits it decided
// together, and consolidate.postgres.batch.duration (s), from taking a
// connection to the COMMIT's answer; and it counts
// consolidate.postgres.batch.retries ({batch}), the batches run again
// whole after a deadlock or serialization failure.
//
// # Schema
//
// Open applies the embedded migrations the database has not seen, in one
// transaction under an advisory lock, and records them in the
// schema_version table, so processes starting together apply each
// migration once. A database written by a newer version of this package
// is refused. Times are stored to the microsecond; the Store returns
// them as stored. The index of transactions due for a check is partial,
// holding PENDING rows only, so the sweeper's cost follows the work in
// flight, not the history.
//
// # Reservations
//
// A reservation is stored like a signed transfer, its funds held and its
// nonce taken, with a NULL hash and raw bytes and no attempt. Its first
// AddAttempt signs it: with the transaction's row locked, it records
// the attempt, sets the transaction's hash and raw bytes to the
// attempt's, moves its version on and writes an EventSigned event, in
// one transaction. A second first attempt recorded at once waits for
// the row lock and then finds the transaction signed: it is recorded as
// a later attempt, and changes nothing else.
package postgres
