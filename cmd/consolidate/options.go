package main

import (
	"errors"
	"flag"
	"fmt"

	"strings"
	"time"
)

// Environment variables that stand in for flags. A flag given on the
// command line wins over its variable.
const (
	envDB          = "CONSOLIDATE_DB"
	envPostgres    = "CONSOLIDATE_POSTGRES"
	envPostgresDSN = "CONSOLIDATE_POSTGRES_DSN" // examples/server's name for it
	envRedis       = "CONSOLIDATE_REDIS_URL"
	envRPC         = "CONSOLIDATE_RPC_URL"
	envKeyFile     = "CONSOLIDATE_KEY_FILE"
	envKey         = "CONSOLIDATE_PRIVATE_KEY"
	envChainID     = "CONSOLIDATE_CHAIN_ID"
)

// options are the flags every command accepts.
type options struct {
	db          string
	postgres    string
	redis       string
	redisPrefix string
	queue       string
	rpc         string
	keyFile     string
	chainID     string
	json        bool
	timeout     time.Duration
}

// defaultOptions are the options before any flag.
func defaultOptions() options {
	return options{queue: "reconcile", redisPrefix: "consolidate:", timeout: 30 * time.Second}
}

// errParse marks a command line the flag package rejected; it has
// already said why.
var errParse = errors.New("invalid command line")

// flagSet returns a FlagSet with the common flags bound to c.opts. The
// defaults are the values parsed so far, so that flags given before the
// command survive a second FlagSet after it. Environment variables are
// applied after parsing (see resolve), never as defaults: the usage text
// would print them, DSN passwords and all.
func (c *cli) flagSet(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	o := &c.opts
	fs.StringVar(&o.db, "db", o.db, "SQLite ledger `file` (env "+envDB+")")
	fs.Var((*secret)(&o.postgres), "postgres", "PostgreSQL `DSN` of the ledger, instead of -db (env "+envPostgres+")")
	fs.Var((*secret)(&o.redis), "redis", "redis:// `URL` of the workers' queue, for queue stats, dead letters and requeue (env "+envRedis+")")
	fs.StringVar(&o.redisPrefix, "redis-prefix", o.redisPrefix, "key prefix of the workers' Redis queue")
	fs.StringVar(&o.queue, "queue", o.queue, "name of the workers' reconcile queue")
	fs.Var((*secret)(&o.rpc), "rpc", "JSON-RPC `URL` of an Ethereum node, for cancel and the wallet's chain view in stats (env "+envRPC+")")
	fs.StringVar(&o.keyFile, "key-file", o.keyFile, "`file` holding the sending wallet's hex private key (env "+envKeyFile+", or the key itself in "+envKey+")")
	fs.StringVar(&o.chainID, "chain-id", o.chainID, "chain `ID` the node must be on; cancel requires it (env "+envChainID+")")
	fs.BoolVar(&o.json, "json", o.json, "print JSON instead of tables")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: consolidate %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// secret is a string flag whose value (a DSN or URL that may hold a
// password or an API key) the usage text never prints.
type secret string

func (s *secret) String() string     { return "" }
func (s *secret) Set(v string) error { *s = secret(v); return nil }

// parse parses a command's flags, which may come before, between and
// after its positional arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errParse
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// resolve fills what the command line left empty from the environment
// and checks that the options agree.
func (c *cli) resolve() error {
	o := &c.opts
	if o.db == "" && o.postgres == "" {
		o.db = c.getenv(envDB)
		o.postgres = firstNonEmpty(c.getenv(envPostgres), c.getenv(envPostgresDSN))
	}
	switch {
	case o.db != "" && o.postgres != "":
		return usagef("both a SQLite ledger (-db or %s) and a PostgreSQL one (-postgres or %s): give one", envDB, envPostgres)
	case o.db == "" && o.postgres == "":
		return usagef("no ledger: give -db path.db or -postgres DSN (or set %s or %s)", envDB, envPostgres)
	}
	o.redis = firstNonEmpty(o.redis, c.getenv(envRedis))
	o.rpc = firstNonEmpty(o.rpc, c.getenv(envRPC))
	o.keyFile = firstNonEmpty(o.keyFile, c.getenv(envKeyFile))
	o.chainID = firstNonEmpty(o.chainID, c.getenv(envChainID))
	if o.timeout <= 0 {
		return usagef("-timeout must be positive")
	}
	if strings.TrimSpace(o.queue) == "" {
		return usagef("-queue is empty")
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
