package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// initialBalance is each account's first deposit: room for about twenty
// transfers, so that the accounts no top-up reaches (see topUpTarget) run dry
// within seconds and are refused from then on.
var initialBalance = big.NewInt(10_000_000_000_000_000)

// runController sets everything up, runs the faults, drains and audits.
// It reports whether the audit passed; err is for a soak that could not
// run at all.
func runController(ctx context.Context, c config) (bool, error) {
	seed := c.seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x50a4))

	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		return false, err
	}
	if c.keep {
		fmt.Printf("soak: work directory %s (kept)\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	switch {
	case c.postgres != "":
		c.db = ""
	case c.db == "":
		c.db = filepath.Join(dir, "ledger.db")
	default:
		if _, err := os.Stat(c.db); err == nil {
			return false, fmt.Errorf("-db %s exists; the audit needs a ledger this soak alone has written", c.db)
		}
	}
	// Keys of their own, so that a shared Redis server's old tasks and
	// cache entries (IDs start at 1 in every new ledger) cannot meet ours.
	c.prefix = "soak-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	c.logDir = filepath.Join(dir, "accepted")
	if err := os.Mkdir(c.logDir, 0o755); err != nil {
		return false, err
	}

	if c.redisURL == "" {
		srv, err := startRedis(dir)
		if err != nil {
			return false, err
		}
		defer srv.stop()
		c.redisURL = "redis://" + srv.addr
	}
	rdb, err := dialRedis(ctx, c.redisURL)
	if err != nil {
		return false, err
	}
	defer rdb.Close()

	keys, wallets, err := newWallets(c.wallets)
	if err != nil {
		return false, err
	}
	sim, err := chaintest.New(&chaintest.Options{ServeIPC: true, Key: keys[0], Fund: wallets[1:]})
	if err != nil {
		return false, err
	}
	defer sim.Close()
	reverter, err := sim.DeployReverter(ctx)
	if err != nil {
		return false, err
	}
	m := &miner{sim: sim}
	mining, stopMining := context.WithCancel(ctx)
	minerDone := make(chan struct{})
	go func() {
		defer close(minerDone)
		m.run(mining, c.block, c.reorgEvery, rand.New(rand.NewPCG(uint64(seed), 0x3e0a)))
	}()
	defer func() { stopMining(); <-minerDone }()
	c.rpc = sim.Endpoint()
	c.reverter = reverter.Hex()
	token, err := deployToken(ctx, sim, wallets)
	if err != nil {
		return false, err
	}
	c.token = token.Hex()

	if err := fund(ctx, c); err != nil {
		return false, err
	}
	reorg := "no reorgs"
	if c.reorgEvery > 0 {
		reorg = "head reorg every ~" + c.reorgEvery.String()
	}
	fmt.Printf("soak: seed %d, %d submitters and %d workers (%d threads each), SIGKILL every ~%v for %v, %d accounts, block every %v, %s, %d confirmations, %d wallets, ledger %s\n",
		seed, c.submitters, c.workers, c.threads, c.killEvery, c.duration, c.accounts, c.block, reorg, c.confirmations, c.wallets, ledgerName(c))

	hexKeys := make([]string, len(keys))
	for i, k := range keys {
		hexKeys[i] = hex.EncodeToString(crypto.FromECDSA(k))
	}
	env := append(os.Environ(), keyEnv+"="+strings.Join(hexKeys, ","), postgresEnv+"="+c.postgres)
	exe, err := os.Executable()
	if err != nil {
		return false, err
	}
	f := &fleet{exe: exe, cfg: c, env: env, dir: dir}
	defer f.killAll()
	for i := range c.submitters {
		f.add("submitter", i)
	}
	for i := range c.workers {
		f.add("worker", i)
	}
	if err := f.startAll(); err != nil {
		return false, err
	}

	// Faults: SIGKILL a random child at random intervals around
	// killEvery and start it again at once.
	start := time.Now()
	kills := 0
	faults, stopFaults := context.WithTimeout(ctx, c.duration)
	m.faults.Store(true)
	for faults.Err() == nil {
		sleepCtx(faults, time.Duration(float64(c.killEvery)*(0.5+rng.Float64())))
		if faults.Err() != nil {
			break
		}
		if err := f.restartExited(); err != nil {
			stopFaults()
			return false, err
		}
		p := f.procs[rng.IntN(len(f.procs))]
		if p.kill() {
			kills++
		}
		if err := p.start(); err != nil {
			stopFaults()
			return false, err
		}
	}
	stopFaults()
	m.faults.Store(false)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	faultTime := time.Since(start)

	// Drain: submitters stop, workers run undisturbed until no transfer
	// is PENDING.
	for _, p := range f.procs {
		if p.role == "submitter" {
			p.terminate()
		}
	}
	if err := f.restartExited(); err != nil {
		return false, err
	}
	db, err := openAudit(c)
	if err != nil {
		return false, err
	}
	defer db.Close()
	drainStart := time.Now()
	drained := false
	var pending int
	for time.Since(drainStart) < c.drainTimeout && ctx.Err() == nil {
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM transactions WHERE status = 'PENDING'`).Scan(&pending); err != nil {
			return false, err
		}
		if pending == 0 {
			drained = true
			break
		}
		if err := f.restartExited(); err != nil {
			return false, err
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	drainTime := time.Since(drainStart)
	for _, p := range f.procs {
		p.terminate()
	}
	stopMining()
	<-minerDone

	r, err := audit(ctx, db, sim.Client(), rdb, c.prefix, wallets, c.logDir)
	if err != nil {
		return false, fmt.Errorf("audit: %w", err)
	}
	r.kills, r.crashes, r.reorgs = kills, f.crashes, int(m.reorgs.Load())
	r.children, r.started, r.minAccepted = len(f.procs), f.started(), c.minAccepted
	r.flakySigner = c.signer == "flaky"
	r.faultTime, r.drainTime, r.drained = faultTime, drainTime, drained
	r.print(os.Stdout)
	if !r.ok() {
		f.showLogs()
	}
	return r.ok(), nil
}

// newWallets makes n hot wallets' keys and addresses; the first is the
// chain's own sending wallet, the rest are funded at genesis.
func newWallets(n int) ([]*ecdsa.PrivateKey, []common.Address, error) {
	keys := make([]*ecdsa.PrivateKey, n)
	addrs := make([]common.Address, n)
	for i := range keys {
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, nil, err
		}
		keys[i], addrs[i] = k, crypto.PubkeyToAddress(k.PublicKey)
	}
	return keys, addrs, nil
}

// tokenSupply is what each wallet holds of the soak's token: far more
// than the accounts can spend.
var tokenSupply = new(big.Int).Lsh(big.NewInt(1), 120)

// deployToken deploys the soak's ERC-20 and gives every wallet
// tokenSupply of it.
func deployToken(ctx context.Context, sim *chaintest.Chain, wallets []common.Address) (common.Address, error) {
	token, err := sim.DeployToken(ctx, chaintest.PlainToken, "SOAK", 6, tokenSupply)
	if err != nil {
		return common.Address{}, err
	}
	for _, w := range wallets[1:] {
		if err := sim.MintToken(ctx, token, w, tokenSupply); err != nil {
			return common.Address{}, err
		}
	}
	return token, nil
}

// tokenAccount reports whether account id holds the soak's token rather
// than ether: every third does.
func tokenAccount(id int64) bool { return id%3 == 0 }

// fund creates the accounts (IDs 1 to c.accounts in a new ledger), a
// third of them in the token, and makes their first deposits; the
// controller is the only writer then.
func fund(ctx context.Context, c config) error {
	store, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	for i := range c.accounts {
		var p consolidate.NewAccount
		if tokenAccount(int64(i + 1)) {
			p.Token = common.HexToAddress(c.token)
		}
		a, err := store.CreateAccount(ctx, p)
		if err != nil {
			return err
		}
		if a.ID != int64(i+1) {
			return fmt.Errorf("new ledger gave account ID %d, want %d: the audit needs a ledger this soak alone has written", a.ID, i+1)
		}
		if _, err := store.Credit(ctx, a.ID, initialBalance, "initial"); err != nil {
			return err
		}
	}
	return nil
}

// fleet is the controller's children.
type fleet struct {
	exe     string
	cfg     config
	env     []string
	dir     string
	procs   []*proc
	crashes int // children that exited without being killed or asked to
}

func (f *fleet) add(role string, index int) {
	f.procs = append(f.procs, &proc{f: f, role: role, index: index})
}

func (f *fleet) startAll() error {
	for _, p := range f.procs {
		if err := p.start(); err != nil {
			return err
		}
	}
	return nil
}

// restartExited starts again every child that exited on its own, which
// it counts: a child should only ever stop when it is killed or told to.
func (f *fleet) restartExited() error {
	for _, p := range f.procs {
		if p.stopped || p.running() {
			continue
		}
		f.crashes++
		fmt.Fprintf(os.Stderr, "soak: %s %d exited by itself (%v); starting it again\n", p.role, p.index, p.err)
		if err := p.start(); err != nil {
			return err
		}
	}
	return nil
}

// started counts the child slots that got to work at least once: each
// leaves a ready file once its Service is up (see runChild).
func (f *fleet) started() int {
	n := 0
	for _, p := range f.procs {
		if _, err := os.Stat(readyPath(f.cfg.logDir, p.role, p.index)); err == nil {
			n++
		}
	}
	return n
}

func (f *fleet) killAll() {
	for _, p := range f.procs {
		p.kill()
	}
}

// showLogs prints the end of every child's log, for a failed audit.
func (f *fleet) showLogs() {
	for _, p := range f.procs {
		b, err := os.ReadFile(p.logPath())
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		fmt.Printf("--- %s %d: last lines of %s\n", p.role, p.index, p.logPath())
		for _, l := range lines[max(0, len(lines)-15):] {
			fmt.Println(l)
		}
	}
}

// proc is one child slot: a role and index, run by successive processes.
type proc struct {
	f       *fleet
	role    string
	index   int
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // exit status once done
	stopped bool  // asked to stop for good
}

func (p *proc) logPath() string {
	return filepath.Join(p.f.dir, p.role+"-"+strconv.Itoa(p.index)+".log")
}

func (p *proc) start() error {
	c := p.f.cfg
	args := []string{
		"-role", p.role, "-index", strconv.Itoa(p.index),
		"-db", c.db, "-redis", c.redisURL, "-prefix", c.prefix, "-rpc", c.rpc, "-reverter", c.reverter, "-token", c.token, "-logdir", c.logDir,
		"-accounts", strconv.Itoa(c.accounts), "-threads", strconv.Itoa(c.threads),
		"-confirmations", strconv.FormatUint(c.confirmations, 10), "-stuck-after", c.stuckAfter.String(),
		"-signer", c.signer,
	}
	out, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.f.exe, args...)
	cmd.Env = p.f.env
	cmd.Stdout, cmd.Stderr = out, out
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s %d: %w", p.role, p.index, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.err, p.stopped = cmd, done, nil, false
	go func() {
		err := cmd.Wait()
		out.Close()
		p.err = err
		close(done)
	}()
	return nil
}

func (p *proc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone. It reports
// whether the signal reached a running process.
func (p *proc) kill() bool {
	if !p.running() {
		return false
	}
	err := p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return err == nil
}

// terminate asks the process to stop, and kills it if it takes more than
// 15 s (a reconcile in flight is bounded by its 10 s task timeout).
func (p *proc) terminate() {
	p.stopped = true
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.kill()
	}
	if p.err != nil && !stoppedByTerm(p.err) {
		fmt.Fprintf(os.Stderr, "soak: %s %d stopped with %v\n", p.role, p.index, p.err)
	}
}

// stoppedByTerm reports whether a child asked to stop with SIGTERM exited
// cleanly or died of that signal, which it does when the signal comes
// before its handler is installed.
func stoppedByTerm(err error) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
		return true
	}
	return exit.ExitCode() == 0
}
