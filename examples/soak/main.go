// Command soak runs several submitter and worker processes on one SQLite
// ledger (or, with -postgres, one PostgreSQL database), one Redis server and one chain, kills a random one of them with
// SIGKILL every few hundred milliseconds and starts it again, then stops
// the faults, lets the workers finish and audits the ledger against the
// chain.
//
//	go run ./examples/soak -duration 2m
//
// The controller (this command without -role) starts a redis-server on a
// free loopback port unless -redis names one, and an in-process chain
// (go-ethereum's simulated backend) that mines a block every -block and
// serves JSON-RPC on a local socket. It creates and funds the ledger's
// accounts, then starts the children: this same binary with -role
// submitter or -role worker. Submitters submit transfers (some to a
// contract that reverts, some with idempotency keys) and top accounts up;
// each appends the ID of every accepted transfer to its own file, synced,
// once Submit has returned. Workers run Service.Run. All of them share the
// wallet's key, passed in the environment.
//
// The audit reads the ledger's tables and the chain directly. It fails (exit
// status 1) if a transfer is lost, settled twice, an account is
// overdrawn, an invariant is broken, or the ledger does not drain within
// -drain-timeout; and, since a clean ledger proves nothing then, if the
// run did too little: fewer than -min-accepted transfers, none settled, no
// SIGKILL delivered, no submit refused for insufficient funds, or a child
// that never started. See README.md for every check.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// keyEnv carries the wallets' keys to the children (hex, comma separated,
// New's wallet first), and postgresEnv the DSN, which may hold a password:
// flags show up in ps.
const (
	keyEnv      = "CONSOLIDATE_SOAK_KEY"
	postgresEnv = "CONSOLIDATE_POSTGRES_DSN"
)

// config is the command line, shared by the controller and its children.
type config struct {
	// controller
	duration     time.Duration
	submitters   int
	workers      int
	killEvery    time.Duration
	redisURL     string
	db           string
	postgres     string
	accounts     int
	block        time.Duration
	drainTimeout time.Duration
	reorgEvery   time.Duration
	minAccepted  int
	seed         int64
	keep         bool

	// every process
	threads       int
	confirmations uint64
	stuckAfter    time.Duration
	signer        string
	wallets       int

	// children
	role     string
	index    int
	prefix   string
	rpc      string
	reverter string
	token    string
	logDir   string
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.DurationVar(&c.duration, "duration", time.Minute, "how long to submit and kill processes")
	fs.IntVar(&c.submitters, "submitters", 3, "submitter processes")
	fs.IntVar(&c.workers, "workers", 2, "worker processes")
	fs.DurationVar(&c.killEvery, "kill-every", 300*time.Millisecond, "mean interval between SIGKILLs of a random child")
	fs.StringVar(&c.redisURL, "redis", "", "redis:// URL of the Redis server for lock, cache and queue (default: start redis-server on a free loopback port)")
	fs.StringVar(&c.db, "db", "", "SQLite ledger file to create (default: in a new temporary directory); must not exist")
	fs.StringVar(&c.postgres, "postgres", os.Getenv(postgresEnv), "PostgreSQL DSN (postgres://user:password@host/db) of an empty database to hold the ledger, instead of -db (env "+postgresEnv+")")
	fs.IntVar(&c.accounts, "accounts", 16, "ledger accounts the submitters spend from")
	fs.DurationVar(&c.block, "block", 100*time.Millisecond, "block interval of the chain")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 30*time.Second, "how long the workers may take to finish every transfer once the faults stop")
	fs.DurationVar(&c.reorgEvery, "reorg-every", 0, "mean interval between reorgs of the head block, which also empty the mempool (default: none)")
	fs.IntVar(&c.minAccepted, "min-accepted", 200, "fail unless at least this many transfers were accepted (a 20 s run accepts several hundred even on a loaded machine)")
	fs.Int64Var(&c.seed, "seed", 0, "seed of the controller's choices (default: from the clock)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory with the ledger and the process logs")
	fs.IntVar(&c.threads, "threads", 4, "concurrent submit loops per submitter, reconcile goroutines per worker")
	fs.Uint64Var(&c.confirmations, "confirmations", 2, "blocks deep a transfer must be to be final")
	fs.DurationVar(&c.stuckAfter, "stuck-after", 10*time.Second, "re-sign a transfer with bumped fees after it waited this long unmined")
	fs.StringVar(&c.signer, "signer", "local", "how the wallet signs: local (a key in memory, inside the store's write) or flaky (a signer that does I/O and is slow, fails, hangs and lies now and then)")
	fs.IntVar(&c.wallets, "wallets", 1, "hot wallets the transfers are spread over, each with its own key and nonces")
	fs.StringVar(&c.role, "role", "", "submitter or worker: run as a child (set by the controller)")
	fs.IntVar(&c.index, "index", 0, "child number within its role (set by the controller)")
	fs.StringVar(&c.prefix, "prefix", "", "prefix of this soak's Redis keys (set by the controller)")
	fs.StringVar(&c.rpc, "rpc", "", "JSON-RPC endpoint of the chain (set by the controller)")
	fs.StringVar(&c.reverter, "reverter", "", "address of the reverting contract (set by the controller)")
	fs.StringVar(&c.token, "token", "", "address of the ERC-20 token a third of the accounts hold (set by the controller)")
	fs.StringVar(&c.logDir, "logdir", "", "directory of the accepted-transfer logs (set by the controller)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.duration <= 0 || c.killEvery <= 0 || c.block <= 0 || c.drainTimeout <= 0 || c.stuckAfter <= 0:
		return config{}, fmt.Errorf("-duration, -kill-every, -block, -drain-timeout and -stuck-after must be positive")
	case c.reorgEvery < 0:
		return config{}, fmt.Errorf("-reorg-every must not be negative")
	case c.submitters < 1 || c.workers < 1 || c.threads < 1 || c.wallets < 1 || c.accounts < 2:
		return config{}, fmt.Errorf("-submitters, -workers, -threads and -wallets must be at least 1, -accounts at least 2 (one to run dry, one to top up)")
	case c.postgres != "" && c.db != "":
		return config{}, fmt.Errorf("-db and -postgres both name a ledger; give one")
	case c.minAccepted < 0:
		return config{}, fmt.Errorf("-min-accepted must not be negative")
	case c.confirmations < 1 || (c.reorgEvery > 0 && c.confirmations < 2):
		return config{}, fmt.Errorf("-confirmations must be at least 1, and at least 2 with reorgs: a head reorg moves transfers 1 block deep")
	case c.signer != "local" && c.signer != "flaky":
		return config{}, errUnknownSigner
	case c.role != "" && c.role != "submitter" && c.role != "worker":
		return config{}, fmt.Errorf("-role %q is not submitter or worker", c.role)
	}
	return c, nil
}

func main() {
	c, err := parseFlags(os.Args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.role != "" {
		if err := runChild(ctx, c); err != nil {
			fmt.Fprintf(os.Stderr, "soak %s %d: %v\n", c.role, c.index, err)
			if ctx.Err() != nil {
				// Asked to stop while starting: the step under way was cut
				// short, which is no failure. The audit judges the rest.
				return
			}
			os.Exit(1)
		}
		return
	}
	ok, err := runController(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}
