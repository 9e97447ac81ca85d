package main

import (
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
)

// keyEnv names the environment variable that holds the sending wallet's
// private key for a real chain. It is never a flag: flags show up in ps,
// shell history and logs.
const keyEnv = "CONSOLIDATE_PRIVATE_KEY"

// operatorTokenEnv names the environment variable that holds the operator
// token. Set, it mounts the operator API and status page; like the key, it
// is never a flag.
const operatorTokenEnv = "CONSOLIDATE_OPERATOR_TOKEN"

// config is the server's configuration, from flags with defaults taken
// from the environment.
type config struct {
	addr            string
	operatorToken   string // from operatorTokenEnv; the operator API is mounted only with one
	role            string // api, worker or all
	db              string
	postgres        string // DSN; the SQLite file db if empty
	redisURL        string
	redlockURLs     []string
	rpcURL          string
	key             *ecdsa.PrivateKey // from keyEnv, with rpcURL only
	confirmations   uint64
	blockTime       time.Duration
	events          []string
	workers         int
	checkBase       time.Duration
	checkMax        time.Duration
	shutdownTimeout time.Duration
	logLevel        slog.Level
}

func (c config) serves() bool   { return c.role != "worker" }
func (c config) works() bool    { return c.role != "api" }
func (c config) embedded() bool { return c.rpcURL == "" }

// temporary reports a ledger that lives as long as the process: the
// default on the in-process chain, which does not survive the process
// either, so no transfer can be left pending for a next run.
func (c config) temporary() bool { return c.db == "" && c.postgres == "" }

// parseConfig reads args (without the program name) and the environment
// through getenv. Flags win over the environment.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(usage)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var redlock, events, level string
	fs.StringVar(&c.addr, "addr", env("CONSOLIDATE_ADDR", "127.0.0.1:8080"), "HTTP listen address (env CONSOLIDATE_ADDR)")
	fs.StringVar(&c.role, "role", env("CONSOLIDATE_ROLE", "all"), "api (HTTP only), worker (reconciling only) or all (env CONSOLIDATE_ROLE)")
	fs.StringVar(&c.db, "db", env("CONSOLIDATE_DB", ""), "SQLite ledger file, kept across runs (env CONSOLIDATE_DB); if empty, consolidate.db with -rpc, and on the in-process chain a new temporary ledger each run, removed at exit")
	fs.StringVar(&c.postgres, "postgres", env("CONSOLIDATE_POSTGRES_DSN", ""), "PostgreSQL DSN (postgres://user:password@host/db) of a ledger that processes on several hosts share, instead of -db (env CONSOLIDATE_POSTGRES_DSN)")
	fs.StringVar(&c.redisURL, "redis", env("CONSOLIDATE_REDIS_URL", ""), "redis:// or rediss:// URL of Redis or Dragonfly for the lock, cache and queue; in-process backends if empty (env CONSOLIDATE_REDIS_URL)")
	fs.StringVar(&redlock, "redlock", env("CONSOLIDATE_REDLOCK_URLS", ""), "comma-separated URLs of independent Redis nodes to lock accounts with Redlock instead (env CONSOLIDATE_REDLOCK_URLS)")
	fs.StringVar(&c.rpcURL, "rpc", env("CONSOLIDATE_RPC_URL", ""), "JSON-RPC URL of an Ethereum node, with the wallet key in "+keyEnv+"; an in-process chain if empty (env CONSOLIDATE_RPC_URL)")
	fs.Uint64Var(&c.confirmations, "confirmations", 0, "blocks deep a transfer must be to be final when the node's finalized block is behind (default 2 in-process, 12 on a real chain)")
	fs.DurationVar(&c.blockTime, "block-time", 500*time.Millisecond, "block interval of the in-process chain")
	fs.StringVar(&events, "events", env("CONSOLIDATE_EVENT_QUEUES", ""), "comma-separated queues every transfer event is published to (env CONSOLIDATE_EVENT_QUEUES)")
	fs.IntVar(&c.workers, "workers", 4, "reconcile tasks worked on at once")
	fs.DurationVar(&c.checkBase, "check-base", 0, "first delay between checks of a transfer not final yet (default 200ms in-process, 100s on a real chain)")
	fs.DurationVar(&c.checkMax, "check-max", 0, "longest delay between checks (default 2s in-process, 1600s on a real chain)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for requests in flight and, in-process, for pending transfers")
	fs.StringVar(&level, "log-level", env("CONSOLIDATE_LOG_LEVEL", "info"), "debug, info, warn or error (env CONSOLIDATE_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.redlockURLs = splitList(redlock)
	c.events = splitList(events)
	if err := c.logLevel.UnmarshalText([]byte(level)); err != nil {
		return config{}, fmt.Errorf("-log-level: %v", err)
	}
	if c.db == "" && !c.embedded() {
		c.db = "consolidate.db"
	}
	c.operatorToken = getenv(operatorTokenEnv)
	if c.rpcURL != "" {
		k, err := parseKey(getenv(keyEnv))
		if err != nil {
			return config{}, err
		}
		c.key = k
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	switch c.role {
	case "all":
	case "api", "worker":
		// Split roles run in several processes, which must share the
		// chain and the queue; the in-process ones live in one process.
		if c.embedded() || c.redisURL == "" {
			errs = append(errs, fmt.Errorf("-role %s needs -redis and -rpc: the in-process queue and chain cannot be shared between processes", c.role))
		}
	default:
		errs = append(errs, fmt.Errorf("-role %q is not api, worker or all", c.role))
	}
	if len(c.events) > 0 && c.redisURL == "" {
		errs = append(errs, errors.New("-events needs -redis: events published to the in-process queue have no consumer"))
	}
	if len(c.redlockURLs) == 1 {
		errs = append(errs, errors.New("-redlock needs several independent nodes (3 or 5); for one, use -redis"))
	}
	if c.operatorToken != "" && len(c.operatorToken) < 16 {
		errs = append(errs, fmt.Errorf("%s must be at least 16 characters; use a long random one (openssl rand -hex 32)", operatorTokenEnv))
	}
	if c.workers < 1 {
		errs = append(errs, errors.New("-workers must be at least 1"))
	}
	if c.blockTime <= 0 || c.shutdownTimeout <= 0 || c.checkBase < 0 || c.checkMax < 0 {
		errs = append(errs, errors.New("-block-time and -shutdown-timeout must be positive, -check-base and -check-max not negative"))
	}
	return errors.Join(errs...)
}

// parseKey reads a hex private key. Its errors never quote the input.
func parseKey(s string) (*ecdsa.PrivateKey, error) {
	if s == "" {
		return nil, fmt.Errorf("-rpc needs the wallet's private key in %s", keyEnv)
	}
	k, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a 32-byte hex private key", keyEnv)
	}
	return k, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// String describes the configuration for the start-up log, without URLs
// (they may hold passwords or API keys) or the key.
func (c config) String() string {
	chain := "in-process, block every " + c.blockTime.String()
	if !c.embedded() {
		chain = "JSON-RPC"
	}
	backends := "in-process"
	if c.redisURL != "" {
		backends = "Redis"
	}
	lock := backends
	if len(c.redlockURLs) > 0 {
		lock = "Redlock over " + strconv.Itoa(len(c.redlockURLs)) + " nodes"
	}
	ledger := c.db
	switch {
	case c.postgres != "":
		ledger = "PostgreSQL"
	case c.temporary():
		ledger = "temporary"
	}
	operator := "off"
	if c.operatorToken != "" {
		operator = "on"
	}
	return fmt.Sprintf("role %s, ledger %s, chain %s, lock %s, cache and queue %s, operator API %s", c.role, ledger, chain, lock, backends, operator)
}
