package consolidate_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// simTx is one signed transaction the model chain knows.
type simTx struct {
	hash    common.Hash
	from    common.Address
	nonce   uint64
	to      common.Address
	token   common.Address // zero for ether
	amount  *big.Int
	feeCap  *big.Int
	cancel  bool
	foreign bool
	reject  bool // the node refuses these bytes for good
}

type simBlock struct {
	tx      *simTx // nil for an empty block
	success bool
	// events are the token Transfer events of a successful token
	// transfer; delivered says whether one is the transfer as asked.
	events    []consolidate.TokenTransfer
	delivered bool
}

// simChain is a deterministic Ethereum wallet: a mempool, a canonical chain
// of one-transaction blocks, finality conf blocks deep, and faults the
// simulation switches on and off. What the simulation does to it (mine,
// reorg, drop) draws on the simulation's generator; whether a call of the
// Service fails is rolled by dice keyed by the call, since a batched pass
// makes its calls from several goroutines in no fixed order.
type simChain struct {
	mu       sync.Mutex
	rng      *rand.Rand
	dice     *simDice
	known    map[common.Hash]*simTx
	pool     map[common.Hash]*simTx
	blocks   []simBlock
	conf     int
	final    int // blocks [0, final) are final; never lowered
	baseFee  int64
	rpcFail  float64 // probability that a call fails transiently
	rejectP  float64 // probability that a new transfer attempt is unacceptable
	revertP  float64
	foreignN uint64
	// A lagging node answers Statuses and Nonce as of lag blocks below the
	// head, and FinalizedNonce finLag blocks further back still: a load
	// balancer may route the second call to an even older node. The
	// finalized view is never newer than the status view, which is what
	// lets one look prove a nonce consumed by another transaction (the
	// opposite skew is what Config.VoidDelay guards against, in wall-clock
	// time the simulation does not model).
	lag, finLag int
	// wallets are the hot wallets the Services sign with, simSender
	// first; some seeds run three.
	wallets []common.Address
	// remote makes the wallet's signer one that does I/O, as a remote
	// signer or a KMS is: Submit reserves, then signs. Its faults: a
	// call that fails, one that hangs until its deadline, and one whose
	// answer does not match the request (the chain package's check of
	// the signed bytes turns that into ErrSignerMismatch).
	remote                       bool
	signFail, signHang, signLies float64
	signCalls                    map[simNonce]uint64 // sign calls by nonce, to key the dice
	stats                        *simCounts
}

var errSimSigner = errors.New("sim: signer unavailable")

// simNonce is one nonce of one wallet.
type simNonce struct {
	from  common.Address
	nonce uint64
}

// signFault rolls the signer's faults for one call signing nonce of from.
func (c *simChain) signFault(ctx context.Context, from common.Address, nonce uint64) error {
	c.mu.Lock()
	if !c.remote {
		c.mu.Unlock()
		return nil
	}
	if c.signCalls == nil {
		c.signCalls = map[simNonce]uint64{}
	}
	c.signCalls[simNonce{from, nonce}]++
	key := uint64(from[19])<<56 | nonce<<16 | c.signCalls[simNonce{from, nonce}]
	fail, hang, lies := c.signFail, c.signHang, c.signLies
	r := c.dice.roll("sign", key)
	c.mu.Unlock()
	switch {
	case r < fail:
		c.stats.add("fault: signer failed")
		return errSimSigner
	case r < fail+hang:
		c.stats.add("fault: signer hung past its timeout")
		<-ctx.Done()
		return fmt.Errorf("sim: signer: %w", ctx.Err())
	case r < fail+hang+lies:
		c.stats.add("fault: signer returned another transaction")
		return fmt.Errorf("sim: signer: %w: to is 0xbad, want the recipient", consolidate.ErrSignerMismatch)
	}
	return nil
}

func (c *simChain) signsOffline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.remote
}

var (
	simSender  = common.HexToAddress("0x5e4d000000000000000000000000000000005e4d")
	simSender2 = common.HexToAddress("0x5e4d000000000000000000000000000000025e4d")
	simSender3 = common.HexToAddress("0x5e4d000000000000000000000000000000035e4d")
)

// simToken is a token that returns false now and then; simTaxed keeps 1 %
// of every transfer, rounded down, so it delivers amounts below 100 in
// full and no larger one.
var (
	simToken = common.HexToAddress("0x70c0000000000000000000000000000000000001")
	simTaxed = common.HexToAddress("0x70c0000000000000000000000000000000000002")
)

var errSimRPC = errors.New("sim: connection reset by peer")

func (c *simChain) fail(call string, key uint64) error {
	if c.rpcFail > 0 && c.dice.roll("rpc "+call, key) < c.rpcFail {
		c.stats.add("fault: rpc error (" + call + ")")
		return errSimRPC
	}
	return nil
}

// hashKey keys dice by the first bytes of hashes.
func hashKey(hs ...common.Hash) uint64 {
	k := uint64(0)
	for _, h := range hs {
		k = k*31 + binary.BigEndian.Uint64(h[:8])
	}
	return k
}

// view is what the node answering now has seen: blocks [0, head), of
// which [0, final) are final; extra lags the final view further.
func (c *simChain) view(extra int) (head, final int) {
	head = max(0, len(c.blocks)-c.lag)
	return head, max(0, c.final-c.lag-extra)
}

// chainNonce is the number of from's nonces consumed on the canonical
// chain.
func (c *simChain) chainNonce(from common.Address) uint64 { return c.noncesIn(len(c.blocks), from) }

// noncesIn is the number of from's nonces consumed in blocks [0, height).
func (c *simChain) noncesIn(height int, from common.Address) uint64 {
	n := uint64(0)
	for _, b := range c.blocks[:height] {
		if b.tx != nil && b.tx.from == from {
			n++
		}
	}
	return n
}

func (c *simChain) finalHeight() int { return c.final }

func (c *simChain) nonce(from common.Address) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("nonce", 0); err != nil {
		return 0, err
	}
	// The node's pool still holds what it has not seen mined.
	head, _ := c.view(0)
	pending := map[uint64]bool{}
	for _, tx := range c.pool {
		if tx.from == from {
			pending[tx.nonce] = true
		}
	}
	for _, b := range c.blocks[head:] {
		if b.tx != nil && b.tx.from == from {
			pending[b.tx.nonce] = true
		}
	}
	n := c.noncesIn(head, from)
	for pending[n] {
		n++
	}
	return n, nil
}

func (c *simChain) Quote(context.Context, consolidate.Transfer) (consolidate.Quote, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("quote", 0); err != nil {
		return consolidate.Quote{}, err
	}
	return consolidate.Quote{GasLimit: 21000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2 * c.baseFee)}, nil
}

func (c *simChain) sign(from common.Address, nonce uint64, t consolidate.Transfer, q consolidate.Quote, cancel bool) (consolidate.SignedTx, error) {
	to, amount := t.To, t.Amount
	raw := binary.BigEndian.AppendUint64(from.Bytes(), nonce)
	raw = append(raw, to.Bytes()...)
	raw = append(raw, t.Token.Bytes()...)
	raw = append(raw, amount.FillBytes(make([]byte, 32))...)
	raw = binary.BigEndian.AppendUint64(raw, q.GasLimit)
	raw = append(raw, q.GasTipCap.FillBytes(make([]byte, 32))...)
	raw = append(raw, q.GasFeeCap.FillBytes(make([]byte, 32))...)
	h := common.Hash(sha256.Sum256(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.known[h]; !ok {
		tx := &simTx{hash: h, from: from, nonce: nonce, to: to, token: t.Token, amount: new(big.Int).Set(amount), feeCap: new(big.Int).Set(q.GasFeeCap), cancel: cancel}
		if !cancel && c.rejectP > 0 && c.dice.roll("reject", hashKey(h)) < c.rejectP {
			tx.reject = true
			c.stats.add("fault: rejected by node")
		}
		c.known[h] = tx
	}
	return consolidate.SignedTx{Hash: h, Raw: raw}, nil
}

func (c *simChain) Bump(_ context.Context, prev consolidate.Quote) (consolidate.Quote, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	bump := func(x *big.Int, floor int64) *big.Int {
		v := new(big.Int).Mul(x, big.NewInt(11))
		v.Div(v, big.NewInt(10))
		v.Add(v, big.NewInt(1))
		if f := big.NewInt(floor); v.Cmp(f) < 0 {
			v = f
		}
		return v
	}
	return consolidate.Quote{GasLimit: prev.GasLimit, GasTipCap: bump(prev.GasTipCap, 1), GasFeeCap: bump(prev.GasFeeCap, 2*c.baseFee)}, nil
}

func (c *simChain) landed(h common.Hash) (int, bool) {
	for i, b := range c.blocks {
		if b.tx != nil && b.tx.hash == h {
			return i, true
		}
	}
	return 0, false
}

func (c *simChain) Broadcast(_ context.Context, raw []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := common.Hash(sha256.Sum256(raw))
	if err := c.fail("broadcast", hashKey(h)); err != nil {
		return err
	}
	tx, ok := c.known[h]
	if !ok {
		return fmt.Errorf("%w: unknown bytes", consolidate.ErrRejected)
	}
	if _, ok := c.landed(tx.hash); ok {
		return nil
	}
	if tx.nonce < c.chainNonce(tx.from) {
		return fmt.Errorf("%w: nonce %d", consolidate.ErrNonceTooLow, tx.nonce)
	}
	if tx.reject {
		return fmt.Errorf("%w: intrinsic gas too low", consolidate.ErrRejected)
	}
	if tx.feeCap.Cmp(big.NewInt(c.baseFee)) < 0 {
		c.stats.add("fault: underpriced")
		return fmt.Errorf("%w: fee cap below base fee", consolidate.ErrUnderpriced)
	}
	c.pool[tx.hash] = tx
	return nil
}

func (c *simChain) Statuses(_ context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("statuses", hashKey(hashes...)); err != nil {
		return nil, err
	}
	head, final := c.view(0)
	if c.lag > 0 {
		c.stats.add("fault: lagging node (statuses)")
	}
	out := make([]consolidate.ChainStatus, len(hashes))
	for i, h := range hashes {
		bi, ok := c.landed(h)
		switch {
		case ok && bi < head:
			b := c.blocks[bi]
			num := uint64(bi + 1)
			st := consolidate.ChainStatus{
				State:         consolidate.TxMined,
				Success:       b.success,
				Transfers:     b.events,
				BlockNumber:   num,
				BlockHash:     simBlockHash(num, h),
				Fee:           new(big.Int).Mul(big.NewInt(21000), b.tx.feeCap),
				Confirmations: uint64(head) - num + 1,
			}
			if bi < final {
				st.State = consolidate.TxFinal
			}
			out[i] = st
		case ok:
			// Mined above what this node has seen: still in its pool.
			out[i].State = consolidate.TxPending
		default:
			if _, ok := c.pool[h]; ok {
				out[i].State = consolidate.TxPending
			}
		}
	}
	return out, nil
}

func simBlockHash(num uint64, tx common.Hash) common.Hash {
	return sha256.Sum256(binary.BigEndian.AppendUint64(tx.Bytes(), num))
}

func (c *simChain) finalizedNonce(from common.Address) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("finalized nonce", 0); err != nil {
		return 0, err
	}
	if c.lag+c.finLag > 0 {
		c.stats.add("fault: lagging node (finalized nonce)")
	}
	_, final := c.view(c.finLag)
	return c.noncesIn(final, from), nil
}

// mine appends a block holding one pool transaction with the next nonce
// of its wallet, if any (or, with foreign set, a transaction of someone
// else with a wallet's key that takes that wallet's next nonce).
func (c *simChain) mine(foreign bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var cands []*simTx
	for _, tx := range c.pool {
		if tx.nonce == c.chainNonce(tx.from) {
			cands = append(cands, tx)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].hash.Cmp(cands[j].hash) < 0 })
	var b simBlock
	switch {
	case foreign:
		from := c.wallets[0]
		if len(c.wallets) > 1 {
			from = c.wallets[c.rng.IntN(len(c.wallets))]
		}
		c.foreignN++
		b = simBlock{tx: &simTx{hash: sha256.Sum256(binary.BigEndian.AppendUint64([]byte("foreign"), c.foreignN)), from: from, nonce: c.chainNonce(from), foreign: true, feeCap: big.NewInt(1)}, success: true}
		c.stats.add("fault: foreign tx takes nonce")
	case len(cands) > 0:
		tx := cands[c.rng.IntN(len(cands))]
		b = simBlock{tx: tx, success: true}
		if !tx.cancel && c.rng.Float64() < c.revertP {
			b.success = false
			c.stats.add("fault: reverted")
		}
		if b.success && tx.token != (common.Address{}) {
			c.runToken(&b)
		}
	}
	if b.tx != nil {
		for h, tx := range c.pool {
			if tx.from == b.tx.from && tx.nonce == b.tx.nonce {
				delete(c.pool, h)
			}
		}
	}
	c.blocks = append(c.blocks, b)
	c.final = max(c.final, len(c.blocks)-c.conf+1)
}

// runToken is what the token contract does with b's transfer: simToken
// moves the amount or, now and then, returns false and moves nothing;
// simTaxed delivers the amount less 1 %.
func (c *simChain) runToken(b *simBlock) {
	tx := b.tx
	got := new(big.Int).Set(tx.amount)
	switch {
	case tx.token == simToken && c.rng.IntN(10) == 0:
		c.stats.add("fault: token returned false")
		return
	case tx.token == simTaxed:
		got.Sub(got, new(big.Int).Div(tx.amount, big.NewInt(100)))
		if got.Cmp(tx.amount) != 0 {
			c.stats.add("fault: token kept a fee on transfer")
		}
	}
	b.events = []consolidate.TokenTransfer{{Token: tx.token, From: tx.from, To: tx.to, Amount: got}}
	b.delivered = got.Cmp(tx.amount) == 0
}

// tokenBalance is what a wallet holds of a token: always plenty; running
// short is tested on a real chain.
func (c *simChain) tokenBalance(from common.Address) (*big.Int, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("token balance", 0); err != nil {
		return nil, 0, err
	}
	return new(big.Int).Lsh(big.NewInt(1), 128), c.chainNonce(from), nil
}

// reorg drops up to depth blocks that are not final; their transactions
// go back to the pool or are lost.
func (c *simChain) reorg(depth int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range depth {
		if len(c.blocks) <= c.final {
			return
		}
		b := c.blocks[len(c.blocks)-1]
		c.blocks = c.blocks[:len(c.blocks)-1]
		c.stats.add("fault: reorged block")
		// Someone else's transaction stays in their node's pool: it comes
		// back, or its nonce would stay open for good.
		if b.tx != nil && (b.tx.foreign || c.rng.IntN(2) == 0) {
			c.pool[b.tx.hash] = b.tx
		}
	}
}

// drop loses one pool transaction, as a node restart or eviction would.
func (c *simChain) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	hs := make([]common.Hash, 0, len(c.pool))
	for h, tx := range c.pool {
		if !tx.foreign {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].Cmp(hs[j]) < 0 })
	delete(c.pool, hs[c.rng.IntN(len(hs))])
	c.stats.add("fault: dropped from mempool")
}

// finalLanding reports the transaction that consumed from's nonce in a
// final block, if any.
func (c *simChain) finalLanding(from common.Address, nonce uint64) (simBlock, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < c.finalHeight() && i < len(c.blocks); i++ {
		if b := c.blocks[i]; b.tx != nil && b.tx.from == from && b.tx.nonce == nonce {
			return b, true
		}
	}
	return simBlock{}, false
}
