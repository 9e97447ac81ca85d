// Package sqlite is the default consolidate.Store: one SQLite database
// file, through the pure-Go modernc.org/sqlite driver (no cgo).
//
// # Durability
//
// Every method that changes data runs one SQLite transaction that starts
// with BEGIN IMMEDIATE and commits in WAL mode with synchronous=FULL: when
// the method returns nil, the change is on disk and survives a process
// crash or power loss (as far as the disk honours fsync). In particular a
// signed transaction returned by Submit is durable before the caller can
// broadcast it. A method that returns an error has changed nothing, with
// one documented exception: Submit records an idempotency key rejected
// for insufficient funds, so a retry gets the same answer.
//
// The database stays consistent across crashes at any point: a transaction
// is applied whole or not at all.
//
// The driver syncs with fsync(2). SQLite's own Linux builds use
// fdatasync(2), which skips the timestamps and can take less time on some
// disks with the same durability; an application may switch to it with
// modernc.org/sqlite's Fdatasync, which applies to the whole process. The
// store leaves that choice to the application.
//
// # Group commit
//
// One goroutine owns the write connection. Writes that arrive while it is
// committing queue up, and it runs the next batch of them (at most
// Options.MaxBatch, waiting up to Options.BatchWait for more) in one
// transaction with one fsync, each write under its own SAVEPOINT. A write
// that fails (insufficient funds, an idempotency conflict, a failed
// signature) is rolled back to its savepoint and the others go on; a
// failure of the transaction itself fails every write in it and applies
// none. Each method still returns only after its own commit is on disk,
// so the durability above is unchanged: batching trades nothing but a
// little latency under load for far fewer fsyncs. A context cancelled
// while its write is queued fails the write and applies nothing; once the
// write is in a batch, the method waits for the batch's outcome.
//
// In a batch, Submit runs in two steps. Under its savepoint it checks the
// idempotency key and the funds, holds them and takes the next nonce; its
// signature is computed on another goroutine (one per GOMAXPROCS) while
// the batch's other writes run. Once all have run, the batch's
// transactions, first attempts, idempotency keys and events, with the
// outbox events of its other writes, are inserted together, a chunk of
// rows per statement, and the batch commits. If a signature fails, the
// whole batch is rolled back and run again without that Submit, which
// gets the error, and the nonces after it move down: nonces stay
// gap-free. If one of those inserts fails, which no valid write causes,
// the batch runs again with each Submit signing in turn, so that the
// failure stays with its own write. SignFunc may therefore be called
// more than once for a transfer, and from a goroutine other than the
// caller's; the store keeps the last signature. A reservation (a Submit with a nil SignFunc) has
// nothing to sign, and its rows are inserted with the batch's others. A
// Submit that reuses the idempotency key of another Submit in its batch
// waits for the next batch, where it sees that Submit's outcome.
//
// # Concurrency
//
// A Store keeps one connection for writes and a small pool for reads.
// Writes from one process queue for the write connection; several
// processes may share a file, and SQLite's file lock serializes their
// writes, waiting up to Options.BusyTimeout for it. Reads run alongside
// writes and see only committed data. The database file must be on a
// local file system: WAL mode does not work over network file systems.
//
// Commits append to the write-ahead log, and a checkpoint copies it back
// into the database file, after which SQLite starts it over. Checkpoints
// run in the background on a connection of their own, so a commit does
// not wait for one; the committer runs one itself only when the log
// reaches 8000 frames (about 31 MiB), which a writer that never pauses
// needs for the log to start over. A
// read that holds one snapshot for long, such as a backup, keeps the log
// from starting over while it lasts; afterwards the file is cut back to
// Options.WALSizeLimit, so the peak does not stay on disk.
//
// # Money
//
// Amounts and balances are stored as 32-byte big-endian unsigned integers,
// the full uint256 range, and computed with math/big; SQLite never does
// arithmetic on them. Nonces and block numbers are SQLite integers, so
// values above 2^63−1 are refused.
//
// # Attempts
//
// Every signed transaction for a transfer's nonce is kept in the attempts
// table: the original, written by Submit in the same transaction as the
// transfer, then each fee bump or cancel recorded by AddAttempt before it
// is sent. A signed transaction's hash belongs to one transfer only.
// Attempts are bookkeeping: recording one leaves the transfer's row and
// Version alone, and the transfer shows the original's Hash and Raw until
// Settle names the attempt that landed. Transfers stored before attempts
// were have their original as the only attempt, with the quote not known
// (zero GasLimit, nil caps).
//
// A reserved transfer (Submit with a nil SignFunc) is stored with no hash
// and no bytes (NULL) and no attempt. Its first AddAttempt signs it: the
// attempt is recorded as the original, the transfer's Hash and Raw become
// its own and its Version increases, and an EventSigned event is written,
// all in one transaction. Writes are serialized, so of two first attempts
// recorded at once, the one that commits first is the original. A
// reservation voided before it was signed (Settle with OutcomeDropped)
// stays without a hash.
//
// # Metrics
//
// Through Options.MeterProvider (OpenTelemetry; the global provider by
// default) the committer records two histograms per group commit:
// consolidate.sqlite.commit.writes ({write}), the writes it committed
// together, and consolidate.sqlite.commit.duration (s), from BEGIN to the
// end of COMMIT's fsync.
//
// # Schema
//
// Open applies the embedded migrations the file has not seen, in one
// transaction, and records them in the schema_version table. Reopening is
// a no-op; a file written by a newer version of this package is refused.
//
// Path Memory opens an in-memory database without durability, for tests
// and examples.
package sqlite
