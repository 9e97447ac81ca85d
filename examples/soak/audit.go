package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
)

// chainReader is what the audit asks the chain: go-ethereum's clients,
// in-process or over JSON-RPC, all have it.
type chainReader interface {
	ethereum.ChainReader
	ethereum.TransactionReader
	ethereum.BlockNumberReader
}

// report is the outcome of a soak.
type report struct {
	kills, crashes, reorgs int
	faultTime, drainTime   time.Duration
	drained                bool

	accepted, logged, successful, reverted, voided, pending int
	replays, locked, insufficient                           int
	pendingWithTask                                         int
	attempts, cancels, landed                               int
	signedLater, rejected                                   int                    // reserved transfers signed after, signatures refused
	perWallet                                               map[common.Address]int // transfers each wallet sent
	tokenTransfers, tokenSettled                            int                    // transfers of the token accepted, and settled SUCCESSFUL

	lost, doubleSettled, overdrafts int
	violations                      []string // invariant violations, described
	stuck                           []string // what the chain says of the first PENDING transfers

	children, started int // child slots, and how many of them ever got to work
	minAccepted       int // fewer accepted transfers than this is a run that proved nothing
	flakySigner       bool
}

func (r *report) violate(format string, args ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

func (r *report) ok() bool {
	return r.drained && r.lost == 0 && r.doubleSettled == 0 && r.overdrafts == 0 && len(r.violations) == 0 &&
		len(r.shortfalls()) == 0
}

func (r *report) settled() int { return r.successful + r.reverted + r.voided }

// shortfalls says why the run did too little for a clean audit to mean
// anything: a soak that accepted, settled, killed or refused nothing has
// not tested what it claims to.
func (r *report) shortfalls() []string {
	var out []string
	if r.accepted < r.minAccepted {
		out = append(out, fmt.Sprintf("%d transfers accepted, fewer than -min-accepted %d", r.accepted, r.minAccepted))
	}
	if r.settled() == 0 {
		out = append(out, "no transfer settled")
	}
	if r.kills == 0 {
		out = append(out, "no SIGKILL was delivered")
	}
	if r.insufficient == 0 {
		out = append(out, "no submit was refused for insufficient funds: no account ran dry")
	}
	if r.tokenTransfers == 0 || r.tokenSettled == 0 {
		out = append(out, "no token transfer was accepted and settled")
	}
	if r.flakySigner && (r.signedLater == 0 || r.rejected == 0) {
		out = append(out, "the flaky signer never signed a reservation or never had a signature refused")
	}
	if len(r.perWallet) > 1 {
		for w, n := range r.perWallet {
			if n == 0 {
				out = append(out, fmt.Sprintf("wallet %s carried no transfer", w.Hex()))
			}
		}
	}
	if r.started < r.children {
		out = append(out, fmt.Sprintf("%d of %d children never started", r.children-r.started, r.children))
	}
	return out
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nchildren started            %d of %d\n", r.started, r.children)
	fmt.Fprintf(w, "processes killed (SIGKILL)  %d in %v (%d exited by themselves)\n", r.kills, r.faultTime.Round(time.Millisecond), r.crashes)
	fmt.Fprintf(w, "head blocks reorganised     %d (mempool emptied each time)\n", r.reorgs)
	fmt.Fprintf(w, "transfers accepted          %d (%d logged by submitters after Submit returned)\n", r.accepted, r.logged)
	fmt.Fprintf(w, "submits refused             %d insufficient funds, %d account locked; %d idempotent replays returned the original\n", r.insufficient, r.locked, r.replays)
	fmt.Fprintf(w, "final                       %d: %d SUCCESSFUL, %d FAILED reverted, %d FAILED voided\n", r.settled(), r.successful, r.reverted, r.voided)
	fmt.Fprintf(w, "signed attempts             %d (%d cancels), %d of the wallets' transactions on chain\n", r.attempts, r.cancels, r.landed)
	fmt.Fprintf(w, "token transfers             %d accepted, %d SUCCESSFUL with their Transfer event\n", r.tokenTransfers, r.tokenSettled)
	if len(r.perWallet) > 1 {
		fmt.Fprintf(w, "transfers per wallet       ")
		for _, addr := range slices.SortedFunc(maps.Keys(r.perWallet), common.Address.Cmp) {
			fmt.Fprintf(w, " %s…: %d", addr.Hex()[:8], r.perWallet[addr])
		}
		fmt.Fprintln(w)
	}
	if r.flakySigner {
		fmt.Fprintf(w, "flaky signer                %d reservations signed after their commit; %d signatures refused for not matching the request\n", r.signedLater, r.rejected)
	}
	drain := "drained in " + r.drainTime.Round(time.Millisecond).String()
	if !r.drained {
		drain = "NOT drained within " + r.drainTime.Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "pending                     %d (%d with a live task): %s\n", r.pending, r.pendingWithTask, drain)
	for _, d := range r.stuck {
		fmt.Fprintf(w, "  %s\n", d)
	}
	fmt.Fprintf(w, "lost                        %d\n", r.lost)
	fmt.Fprintf(w, "double-settled              %d\n", r.doubleSettled)
	fmt.Fprintf(w, "overdrafts                  %d\n", r.overdrafts)
	fmt.Fprintf(w, "invariant violations        %d\n", len(r.violations))
	for i, v := range r.violations {
		if i == 20 {
			fmt.Fprintf(w, "  … and %d more\n", len(r.violations)-i)
			break
		}
		fmt.Fprintf(w, "  %s\n", v)
	}
	short := r.shortfalls()
	fmt.Fprintf(w, "too little work             %d\n", len(short))
	for _, s := range short {
		fmt.Fprintf(w, "  %s\n", s)
	}
	if r.ok() {
		fmt.Fprintln(w, "soak: PASS")
	} else {
		fmt.Fprintln(w, "soak: FAIL")
	}
}

// row is a transaction as stored.
type row struct {
	id, account       int64
	sender, recipient common.Address
	token             common.Address // zero for ether
	amount, feeTotal  *big.Int
	feeChain          *big.Int // nil while PENDING
	nonce             uint64
	hash              common.Hash
	status            consolidate.Status
	blockNumber       uint64
	blockHash         common.Hash
}

// attempt is one signed transaction of a row.
type attempt struct {
	hash   common.Hash
	cancel bool
}

// walletNonce names a nonce of one wallet: each has its own sequence.
type walletNonce struct {
	wallet common.Address
	nonce  uint64
}

// audit checks the ledger in db against the chain, whose hot wallets are
// wallets, and the accepted logs in logDir. Its own errors (an unreadable file, a failing query) are
// returned; findings go into the report.
func audit(ctx context.Context, db *sql.DB, ch chainReader, rdb *redis.Client, prefix string, wallets []common.Address, logDir string) (*report, error) {
	r := &report{perWallet: map[common.Address]int{}}
	for _, w := range wallets {
		r.perWallet[w] = 0
	}
	rows, err := loadRows(ctx, db)
	if err != nil {
		return nil, err
	}
	r.accepted = len(rows)
	attempts, err := loadAttempts(ctx, db)
	if err != nil {
		return nil, err
	}
	credits, err := sumByAccount(ctx, db, `SELECT account_id, amount FROM credits`)
	if err != nil {
		return nil, err
	}

	// Every transfer a submitter saw accepted is in the ledger, as asked.
	// The ledger may hold more: a submitter killed between Submit's
	// commit and its log line.
	logged, notes, err := readLogs(logDir, r)
	if err != nil {
		return nil, err
	}
	r.logged = len(logged)
	for _, n := range notes {
		r.violate("%s", n)
	}
	for _, l := range logged {
		t, ok := rows[l.id]
		switch {
		case !ok:
			r.lost++
			r.violate("transfer %d was accepted but is not in the ledger", l.id)
		case t.account != l.account || t.recipient != l.to || t.amount.Cmp(l.amount) != 0:
			r.violate("transfer %d is stored as account %d → %s %s, accepted as account %d → %s %s",
				l.id, t.account, t.recipient.Hex(), t.amount, l.account, l.to.Hex(), l.amount)
		}
	}

	// Final status against the chain; the outflow of each transfer is
	// what the chain decided, not what the row says.
	outflow := map[int64]*big.Int{}
	held := map[int64]*big.Int{}
	byNonce := map[walletNonce]int64{}
	ours := map[common.Hash]int64{}
	for _, t := range rows {
		if _, ok := r.perWallet[t.sender]; !ok {
			r.violate("transfer %d was sent by %s, none of the soak's wallets", t.id, t.sender.Hex())
		}
		r.perWallet[t.sender]++
		if t.token != (common.Address{}) {
			r.tokenTransfers++
		}
		key := walletNonce{t.sender, t.nonce}
		if other, dup := byNonce[key]; dup {
			r.doubleSettled++
			r.violate("transfers %d and %d share nonce %d of wallet %s", other, t.id, t.nonce, t.sender.Hex())
		}
		byNonce[key] = t.id
		for _, a := range attempts[t.id] {
			ours[a.hash] = t.id
			r.attempts++
			if a.cancel {
				r.cancels++
			}
		}
		if t.status == consolidate.StatusPending {
			r.pending++
			add(held, t.account, t.amount, t.feeTotal)
			live, err := liveTask(ctx, rdb, prefix, t.id)
			if err != nil {
				return nil, err
			}
			if len(r.stuck) < 3 {
				r.stuck = append(r.stuck, diagnose(ctx, ch, t, attempts[t.id]))
			}
			if live {
				r.pendingWithTask++
			} else {
				r.lost++
				r.violate("transfer %d is PENDING with no reconcile task in the queue", t.id)
			}
			continue
		}
		out, err := checkFinal(ctx, ch, t, attempts[t.id], r)
		if err != nil {
			return nil, err
		}
		add(outflow, t.account, out)
	}

	// Settled at most once: one final event per transfer, matching its
	// status.
	if err := checkEvents(ctx, db, rows, r); err != nil {
		return nil, err
	}

	// Balances: never overdrawn, the held amount is what PENDING
	// transfers hold, and current is deposits less what the chain took.
	accounts, err := loadAccounts(ctx, db)
	if err != nil {
		return nil, err
	}
	totalCredits, totalCurrent, totalOut := new(big.Int), new(big.Int), new(big.Int)
	for id, a := range accounts {
		if a.available.Sign() < 0 || a.available.Cmp(a.current) > 0 {
			r.overdrafts++
			r.violate("account %d: available %s, current %s", id, a.available, a.current)
		}
		h, cr, out := get(held, id), get(credits, id), get(outflow, id)
		if d := new(big.Int).Sub(a.current, a.available); d.Cmp(h) != 0 {
			r.violate("account %d: current − available = %s, but its PENDING transfers hold %s", id, d, h)
		}
		if want := new(big.Int).Sub(cr, out); a.current.Cmp(want) != 0 {
			r.violate("account %d: current %s, but deposits %s less settled outflows %s = %s", id, a.current, cr, out, want)
		}
		totalCredits.Add(totalCredits, cr)
		totalCurrent.Add(totalCurrent, a.current)
		totalOut.Add(totalOut, out)
	}
	if sum := new(big.Int).Add(totalCurrent, totalOut); sum.Cmp(totalCredits) != 0 {
		r.violate("money not conserved: deposits %s, current %s + settled outflows %s = %s", totalCredits, totalCurrent, totalOut, sum)
	}

	// Nothing left a wallet that the ledger does not know: every
	// transaction of a wallet on chain is a recorded attempt of the
	// transfer that holds its nonce.
	return r, scanWallets(ctx, ch, wallets, rows, byNonce, ours, r)
}

// checkFinal checks a final transfer against the chain and returns what
// it cost its account, as the chain decided it.
func checkFinal(ctx context.Context, ch chainReader, t row, as []attempt, r *report) (*big.Int, error) {
	var landed *types.Receipt
	var landedAttempt attempt
	for _, a := range as {
		rc, err := receipt(ctx, ch, a.hash)
		if err != nil {
			return nil, err
		}
		if rc == nil {
			continue
		}
		if landed != nil {
			r.doubleSettled++
			r.violate("transfer %d: two attempts on chain, %s and %s", t.id, landed.TxHash.Hex(), rc.TxHash.Hex())
			continue
		}
		landed, landedAttempt = rc, a
	}
	fail := func(format string, args ...any) (*big.Int, error) {
		r.violate("transfer %d (%s, nonce %d): %s", t.id, t.status, t.nonce, fmt.Sprintf(format, args...))
		return new(big.Int), nil
	}
	if landed == nil {
		// Voided because a transaction none of ours took the nonce: the
		// wallet scan checks the nonce is taken; here only the status.
		if t.status != consolidate.StatusFailed {
			return fail("none of its %d attempts is on chain", len(as))
		}
		r.voided++
		return new(big.Int), nil
	}
	if landed.TxHash != t.hash {
		return fail("the ledger names %s, but %s landed", t.hash.Hex(), landed.TxHash.Hex())
	}
	if landed.BlockHash != t.blockHash || landed.BlockNumber.Uint64() != t.blockNumber {
		return fail("stored block %d %s, receipt in block %s %s", t.blockNumber, t.blockHash.Hex(), landed.BlockNumber, landed.BlockHash.Hex())
	}
	h, err := ch.HeaderByNumber(ctx, landed.BlockNumber)
	if err != nil {
		return nil, fmt.Errorf("header %s: %w", landed.BlockNumber, err)
	}
	if h.Hash() != landed.BlockHash {
		return fail("block %s of its receipt is not canonical", landed.BlockNumber)
	}
	fee := new(big.Int).Mul(new(big.Int).SetUint64(landed.GasUsed), landed.EffectiveGasPrice)
	if t.feeChain == nil || t.feeChain.Cmp(fee) != 0 {
		return fail("fee_blockchain %v, the receipt says %s", t.feeChain, fee)
	}
	switch {
	case landedAttempt.cancel:
		if t.status != consolidate.StatusFailed || landed.Status != types.ReceiptStatusSuccessful {
			return fail("its cancel landed with receipt status %d", landed.Status)
		}
		r.voided++
		return new(big.Int), nil
	case landed.Status == types.ReceiptStatusSuccessful && !moved(t, landed):
		if t.status != consolidate.StatusFailed {
			return fail("the token transfer landed without its Transfer event")
		}
		r.reverted++
		return new(big.Int).Set(t.feeTotal), nil
	case landed.Status == types.ReceiptStatusSuccessful:
		if t.status != consolidate.StatusSuccessful {
			return fail("the transfer landed with receipt status 1")
		}
		r.successful++
		if t.token != (common.Address{}) {
			r.tokenSettled++
		}
		return new(big.Int).Add(t.amount, t.feeTotal), nil
	default:
		if t.status != consolidate.StatusFailed {
			return fail("the transfer landed and reverted")
		}
		r.reverted++
		return new(big.Int).Set(t.feeTotal), nil
	}
}

// moved reports whether a landed transfer moved what it was asked to: a
// receipt of status 1 for ether, and for a token also the token's
// Transfer event of the amount from the wallet to the recipient.
func moved(t row, rc *types.Receipt) bool {
	if t.token == (common.Address{}) {
		return true
	}
	for _, e := range chain.TokenTransfers(t.token, rc.Logs) {
		if e.From == t.sender && e.To == t.recipient && e.Amount.Cmp(t.amount) == 0 {
			return true
		}
	}
	return false
}

// scanWallets reads every block and checks each transaction a wallet
// sent: it must be a recorded attempt of the transfer with its wallet and
// nonce, and every final transfer voided without a landed attempt must
// have its nonce taken.
func scanWallets(ctx context.Context, ch chainReader, wallets []common.Address, rows map[int64]row, byNonce map[walletNonce]int64, ours map[common.Hash]int64, r *report) error {
	head, err := ch.BlockNumber(ctx)
	if err != nil {
		return err
	}
	signer := types.LatestSignerForChainID(big.NewInt(1337))
	taken := map[walletNonce]bool{}
	for n := uint64(0); n <= head; n++ {
		b, err := ch.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil {
			return fmt.Errorf("block %d: %w", n, err)
		}
		for _, tx := range b.Transactions() {
			from, err := types.Sender(signer, tx)
			if err != nil || !slices.Contains(wallets, from) {
				continue
			}
			r.landed++
			key := walletNonce{from, tx.Nonce()}
			taken[key] = true
			id, ok := ours[tx.Hash()]
			switch {
			case !ok:
				r.violate("wallet %s sent %s (nonce %d) in block %d, which no transfer recorded", from.Hex(), tx.Hash().Hex(), tx.Nonce(), n)
			case byNonce[key] != id:
				r.violate("%s in block %d is an attempt of transfer %d with nonce %d", tx.Hash().Hex(), n, id, tx.Nonce())
			}
		}
	}
	for _, t := range rows {
		if t.status.Final() && !taken[walletNonce{t.sender, t.nonce}] {
			r.violate("transfer %d is %s, but nonce %d was never used on chain", t.id, t.status, t.nonce)
		}
	}
	return nil
}

// diagnose describes what the chain knows of a PENDING transfer's
// attempts, to tell a stuck worker from a stuck chain.
func diagnose(ctx context.Context, ch chainReader, t row, as []attempt) string {
	var b strings.Builder
	fmt.Fprintf(&b, "transfer %d nonce %d:", t.id, t.nonce)
	for _, a := range as {
		fmt.Fprintf(&b, " %s", a.hash.Hex()[:10])
		if a.cancel {
			b.WriteString(" (cancel)")
		}
		rc, err := ch.TransactionReceipt(ctx, a.hash)
		switch {
		case err != nil:
			fmt.Fprintf(&b, " receipt: %v;", err)
		default:
			canonical := "?"
			if h, err := ch.HeaderByNumber(ctx, rc.BlockNumber); err == nil {
				canonical = strconv.FormatBool(h.Hash() == rc.BlockHash)
			}
			fmt.Fprintf(&b, " receipt block %s status %d canonical %s;", rc.BlockNumber, rc.Status, canonical)
		}
		if _, pending, err := ch.TransactionByHash(ctx, a.hash); err != nil {
			fmt.Fprintf(&b, " tx: %v;", err)
		} else {
			fmt.Fprintf(&b, " tx pending %v;", pending)
		}
	}
	if head, err := ch.BlockNumber(ctx); err == nil {
		fmt.Fprintf(&b, " head %d", head)
	}
	return b.String()
}

// receipt returns the receipt of hash, or nil if it is not on chain.
func receipt(ctx context.Context, ch chainReader, hash common.Hash) (*types.Receipt, error) {
	rc, err := ch.TransactionReceipt(ctx, hash)
	if errors.Is(err, ethereum.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("receipt %s: %w", hash.Hex(), err)
	}
	return rc, nil
}

// liveTask reports whether the reconcile task of transfer id is waiting or
// in flight in the Redis queue (a dead letter does not count).
func liveTask(ctx context.Context, rdb *redis.Client, prefix string, id int64) (bool, error) {
	base := prefix + "{default}:q:reconcile:"
	member := "tx:" + strconv.FormatInt(id, 10)
	for _, set := range []string{"waiting", "inflight"} {
		_, err := rdb.ZScore(ctx, base+set, member).Result()
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, redis.Nil) {
			return false, err
		}
	}
	return false, nil
}

func checkEvents(ctx context.Context, db *sql.DB, rows map[int64]row, r *report) error {
	// Filtered here rather than in SQL, whose placeholders differ between
	// SQLite and PostgreSQL.
	q, err := db.QueryContext(ctx, `SELECT transaction_id, type, status FROM events`)
	if err != nil {
		return err
	}
	defer q.Close()
	final := map[int64]int{}
	for q.Next() {
		var id int64
		var typ, status string
		if err := q.Scan(&id, &typ, &status); err != nil {
			return err
		}
		switch typ {
		case consolidate.EventSigned:
			r.signedLater++
			continue
		case consolidate.EventSignatureRejected:
			r.rejected++
			continue
		case consolidate.EventSuccessful, consolidate.EventFailed:
		default:
			continue
		}
		final[id]++
		if final[id] == 2 {
			r.doubleSettled++
			r.violate("transfer %d has more than one final event", id)
		}
		if t, ok := rows[id]; ok && string(t.status) != status {
			r.doubleSettled++
			r.violate("transfer %d is %s, but an event says %s", id, t.status, status)
		}
	}
	if err := q.Err(); err != nil {
		return err
	}
	for id, t := range rows {
		if t.status.Final() && final[id] == 0 {
			r.violate("transfer %d is %s without a final event", id, t.status)
		}
	}
	return nil
}

func loadRows(ctx context.Context, db *sql.DB) (map[int64]row, error) {
	q, err := db.QueryContext(ctx, `SELECT id, account_id, sender, recipient, token, amount, fee_total, fee_blockchain,
		nonce, hash, status, block_number, block_hash FROM transactions`)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	out := map[int64]row{}
	for q.Next() {
		var t row
		var sender, recipient, token, hash, blockHash []byte
		var status string
		if err := q.Scan(&t.id, &t.account, &sender, &recipient, &token, money{&t.amount}, money{&t.feeTotal}, money{&t.feeChain},
			&t.nonce, &hash, &status, &t.blockNumber, &blockHash); err != nil {
			return nil, err
		}
		t.sender, t.recipient, t.token = common.BytesToAddress(sender), common.BytesToAddress(recipient), common.BytesToAddress(token)
		t.hash, t.blockHash = common.BytesToHash(hash), common.BytesToHash(blockHash)
		t.status = consolidate.Status(status)
		out[t.id] = t
	}
	return out, q.Err()
}

func loadAttempts(ctx context.Context, db *sql.DB) (map[int64][]attempt, error) {
	q, err := db.QueryContext(ctx, `SELECT transaction_id, hash, cancel FROM attempts ORDER BY transaction_id, seq`)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	out := map[int64][]attempt{}
	for q.Next() {
		var id int64
		var hash []byte
		var cancel bool
		if err := q.Scan(&id, &hash, &cancel); err != nil {
			return nil, err
		}
		out[id] = append(out[id], attempt{hash: common.BytesToHash(hash), cancel: cancel})
	}
	return out, q.Err()
}

type balances struct{ available, current *big.Int }

func loadAccounts(ctx context.Context, db *sql.DB) (map[int64]balances, error) {
	q, err := db.QueryContext(ctx, `SELECT id, available, current FROM accounts`)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	out := map[int64]balances{}
	for q.Next() {
		var id int64
		var b balances
		if err := q.Scan(&id, money{&b.available}, money{&b.current}); err != nil {
			return nil, err
		}
		out[id] = b
	}
	return out, q.Err()
}

// sumByAccount sums a money column per account.
func sumByAccount(ctx context.Context, db *sql.DB, query string) (map[int64]*big.Int, error) {
	q, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	out := map[int64]*big.Int{}
	for q.Next() {
		var id int64
		var amount *big.Int
		if err := q.Scan(&id, money{&amount}); err != nil {
			return nil, err
		}
		add(out, id, amount)
	}
	return out, q.Err()
}

func add(m map[int64]*big.Int, id int64, xs ...*big.Int) {
	s, ok := m[id]
	if !ok {
		s = new(big.Int)
		m[id] = s
	}
	for _, x := range xs {
		s.Add(s, x)
	}
}

func get(m map[int64]*big.Int, id int64) *big.Int {
	if s, ok := m[id]; ok {
		return s
	}
	return new(big.Int)
}

// accepted is one line of a submitter's log.
type accepted struct {
	id, account int64
	to          common.Address
	amount      *big.Int
}

// readLogs reads every accepted-transfer log in dir, and counts its
// refusals and idempotent replays into r. A last line without
// its newline is a write a kill cut short and is skipped: its transfer
// was not yet reported accepted. Lines with a note are returned as
// findings.
func readLogs(dir string, r *report) ([]accepted, []string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "accepted-*.log"))
	if err != nil {
		return nil, nil, err
	}
	var out []accepted
	var notes []string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 {
			b = b[:i+1]
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			switch line := sc.Text(); {
			case line == "- locked":
				r.locked++
				continue
			case line == "- insufficient":
				r.insufficient++
				continue
			case strings.HasPrefix(line, "= "):
				r.replays++
				continue
			}
			a, note, err := parseLine(sc.Text())
			if err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %w", filepath.Base(name), n, err)
			}
			if note != "" {
				notes = append(notes, fmt.Sprintf("transfer %d: %s", a.id, note))
			}
			out = append(out, a)
		}
	}
	return out, notes, nil
}

// parseLine reads "id account to amount [note]".
func parseLine(s string) (accepted, string, error) {
	f := strings.Fields(s)
	if len(f) < 4 || len(f) > 5 {
		return accepted{}, "", fmt.Errorf("malformed line %q", s)
	}
	var a accepted
	var err1, err2 error
	a.id, err1 = strconv.ParseInt(f[0], 10, 64)
	a.account, err2 = strconv.ParseInt(f[1], 10, 64)
	amount, ok := new(big.Int).SetString(f[3], 10)
	if err1 != nil || err2 != nil || !ok || !common.IsHexAddress(f[2]) {
		return accepted{}, "", fmt.Errorf("malformed line %q", s)
	}
	a.to, a.amount = common.HexToAddress(f[2]), amount
	if len(f) == 5 {
		return a, f[4], nil
	}
	return a, "", nil
}
