// Package consolidate moves money on Ethereum for the users of a service:
// it submits transfers from the service's wallet, holds each user's funds
// while a transfer is unconfirmed, reconciles it in the background until it
// is final, and answers "where is my transfer?" fast.
//
// # Shape
//
// Users see one concrete type, Service, built by New from a Store (the
// durable ledger; store/sqlite is the default), a Chain (the wallet and the
// node; package chain implements it on go-ethereum's ethclient) and an
// optional Config. Locker, Cache and Queue are small interfaces. Locker
// and Queue default to in-process implementations (MemoryLocker,
// MemoryQueue); Cache defaults to none, since a private cache in each of
// several processes on one store would miss the others' settles.
// NewMemoryCache is for a single process, and package redis implements all
// three on Redis, Redis Cluster and Dragonfly.
//
//	svc, err := consolidate.New(store, chain, nil)
//	tx, err := svc.Submit(ctx, consolidate.SubmitRequest{AccountID: 1, To: to, Amount: amount})
//	go svc.Run(ctx) // reconcile until final
//	tx, err = svc.Get(ctx, tx.ID)
//
// # Money
//
// Amounts are wei as *big.Int over the full uint256 range, never floats.
// An account has an available balance (what it may spend now) and a current
// balance (what has settled). Always 0 ≤ available ≤ current, and current −
// available is the sum of amount + fee over the account's PENDING
// transactions.
//
//   - Submit: available −= amount + fee, if available covers it.
//   - Mined with status 1 and final: current −= amount + fee → SUCCESSFUL.
//   - Mined with status 0 (reverted) and final: the amount comes back to
//     available, the fee is charged: current −= fee → FAILED.
//   - Provably never landing: available += amount + fee → FAILED.
//
// Each of these happens once per transaction, in one store transaction with
// the status change, guarded by the status being PENDING.
//
// # Never lose, never send twice
//
// Submit allocates the wallet's next nonce, signs the transfer and stores
// the signed bytes in the same durable store transaction that holds the
// funds, and only then broadcasts. Broadcasting the stored bytes again is
// always safe: they have the same hash. The reconcile task is enqueued after
// commit; if the process dies in between, the sweeper finds the PENDING row
// overdue and enqueues it again. Reconcile is idempotent, so duplicate
// deliveries are harmless.
//
// A signer that may do I/O (a remote signer, a KMS: a Chain that does not
// report OfflineSigning) is never called inside the store's write: Submit
// reserves the transfer (funds held, nonce taken, request recorded), signs
// outside, records the signature and only then broadcasts; a transfer
// whose signature did not come is signed by its reconcile (see sign.go
// and docs/signers.md).
//
// # Several hot wallets
//
// New's chain is one hot wallet; Config.Wallets adds more, each a Chain
// with its own key or signer and its own nonce sequence. Submit gives each
// transfer to the wallet in rotation with the fewest open transfers this
// process knows of, so a nonce stuck on one wallet holds back only that
// wallet's transfers. A wallet whose signer fails or that cannot pay for
// gas leaves the rotation for Config.WalletPause or until it signs or is
// accepted again; one whose lowest open nonce has not been final for
// Config.WalletStuckAfter leaves it until that nonce is. Each change is
// logged, and the consolidate.wallet.in_rotation gauge and Wallets show
// it. A transfer stays with its wallet for life, and its wallet's
// transfers keep reconciling while it is out of rotation. A wallet taken
// out of the configuration is no wallet of the Service any more: its
// signed transfers are watched until final, as another Service's are.
//
// # Tokens
//
// An account holds ether or one of Config.Tokens, an ERC-20 token, for
// life (Service.CreateTokenAccount); its balances, holds and fee
// (Token.Fee) are in the token's smallest unit. A token transfer is a call
// of the token's transfer(to, amount), paid for in ether by the wallet,
// and is SUCCESSFUL only when its receipt carries the token's Transfer
// event of the amount from the wallet to the recipient: a token that
// returns false, or takes a fee on transfer, ends FAILED with the amount
// given back. Submit refuses a token transfer no wallet holds enough of
// with ErrWalletUnderfunded. See docs/tokens.md.
//
// The account lock only makes a concurrent second submit fail fast with
// ErrAccountLocked. Correctness never depends on it: the store checks
// balances and allocates nonces on its own. A holder can pause (GC, swap, a
// stopped VM) past its lease, or a clock can jump, and then two holders
// believe they own the key; the overlap can at worst let a second submit
// through, which the store accepts or rejects exactly as if it came later.
//
// # Reconciling
//
// Run claims reconcile tasks, up to Config.ReconcileBatch (64 by default) at
// a time per worker, and checks each claim in one pass: one read of all
// their transactions and attempts when the store is a BatchReader (both
// bundled stores are), one Chain.Statuses call for all their attempts,
// settlements applied concurrently so that the store commits them
// together, then each task acked or retried on its own.
// A transaction that is not final yet is checked again after
// min(Base·2^n, Max) (100 s doubling to 1600 s by default). After
// Backoff.Checks checks (32 by default) its task goes to the dead letters
// and an event is written, but the transaction stays PENDING: running out
// of patience is no proof that a transfer failed. Requeue puts it back to
// work.
//
// Such a transfer is parked: its funds stay held and it is checked again
// every Config.ParkedCheckInterval until it is final, since it can still
// land (a node outage outlasted the budget, say). If it holds the wallet's
// lowest open nonce, every later transfer of the wallet waits behind it, so
// a transfer that settles wakes the parked ones below its nonce at once: a
// later nonce mined proves theirs consumed, and their check decides.
//
// # Metrics and traces
//
// A Service records metrics and spans through the OpenTelemetry API, to
// Config.MeterProvider and Config.TracerProvider, which default to the
// global providers: nothing is recorded until the host installs an SDK.
// Counters and histograms cover submits by outcome and latency, reconcile
// checks by outcome, time to final, fee bumps, cancels, parks, relayed
// events and cache hits and misses; gauges read at collection time cover
// pending and parked transfers, the oldest one's age, the wallet's nonce
// gap and the queues. Spans cover Submit (with its store write, signing
// and broadcast), reconcile passes and relay rounds. docs/metrics.md
// lists every name, unit and attribute.
//
// # Errors
//
// An error the caller can act on wraps one of the package's sentinel
// errors (or a context error) and is matched with errors.Is: bad input
// (ErrInvalidAmount, ErrInvalidArgument, ErrInvalidConfig, …), a refusal
// (ErrInsufficientFunds, ErrAccountLocked, …) or a missing record
// (ErrNotFound). Bad input is rejected before anything changes. Any other
// error is a failure of the store, chain or backends, and is transient.
package consolidate
