// Command consolidate inspects and repairs the ledger of a service built
// on package consolidate: account balances, transfers, the open work, and
// the transfers whose checks ran out.
//
//	go install github.com/go-consolidate/consolidate/cmd/consolidate@latest
//	consolidate -db ledger.db stats
//	consolidate -postgres "$DSN" list -parked -json
//
// # Ledger
//
// Every command works on one ledger: a SQLite file (-db, or
// CONSOLIDATE_DB) or a PostgreSQL database (-postgres DSN, or
// CONSOLIDATE_POSTGRES). Opening a ledger brings its schema up to date,
// as the stores do; migrate does only that, and is the only command that
// creates a SQLite file, so that a mistyped path is an error rather than
// an empty ledger. Flags go before or after the command; a flag wins over
// its environment variable.
//
// # Commands
//
//   - migrate: create the ledger or bring its schema up to date.
//   - account <id>: available and current balance, and what pending
//     transfers hold (current − available).
//   - transfer <id>, or transfer -hash 0x…: one transfer and its signed
//     attempts; the hash may be any attempt's (the original, a fee bump, a
//     cancel).
//   - list: transfers of every account, newest first (-oldest for oldest
//     first), filtered by -status, -parked and -older-than, in pages of
//     -limit continued with -cursor. The ledger filters by status; the
//     command filters by age, reading pages until it fills its own, so
//     -older-than over final transfers may read much history.
//   - dead-letters: parked transfers, those whose check budget is spent,
//     oldest first; with -redis also the dead letters of the workers'
//     queue and their reasons.
//   - requeue <id>: put a parked transfer back to work with a fresh check
//     budget (Service.Requeue).
//   - cancel <id>: void a pending transfer with a replacement
//     (Service.Cancel). It signs, so it needs the node (-rpc), the wallet's
//     key (-key-file, CONSOLIDATE_KEY_FILE or CONSOLIDATE_PRIVATE_KEY) and
//     -chain-id, which the node must be on.
//   - stats: pending and parked transfers, the oldest one's age, each
//     wallet's nonces; with -redis the queue's counts, with -rpc the node's
//     finalized nonce and balance of the key's wallet.
//
// # Requeue and the queue
//
// A parked transfer's reconcile task is a dead letter in the workers'
// queue, and the queue takes no new task with the same ID while it is
// there. Requeueing therefore acts on the queue as well as the ledger:
// -redis (CONSOLIDATE_REDIS_URL, with -redis-prefix and -queue if the
// workers changed them) reaches the workers' Redis queue. Workers on the
// in-process queue cannot be reached from outside; stop them and pass
// -ledger-only, and their sweeper enqueues the transfer when they start.
// Cancel of a parked transfer follows the same rule.
//
// # Output
//
// Tables by default; -json prints one JSON document for scripts. Amounts
// are exact decimals in the smallest unit of their asset (wei for ether;
// token_address names a token), as strings in JSON; times are UTC, RFC
// 3339 in JSON. A list whose page is full gives the cursor of the next page
// (next_cursor in JSON, a hint on stderr otherwise).
//
// # Exit codes
//
// 0 on success; 1 when the command failed (an unknown account or
// transfer, a final transfer to requeue or cancel, an unreachable
// database, node or Redis); 2 when the command line is wrong (an unknown
// command or flag, a malformed ID, a missing ledger or chain flag).
package main
