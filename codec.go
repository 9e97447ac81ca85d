package consolidate

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// cachedTransaction is the cache's wire form of a Transaction. Amounts are
// decimal strings: exact at any size.
type cachedTransaction struct {
	ID             int64          `json:"id"`
	AccountID      int64          `json:"account_id"`
	From           common.Address `json:"from"`
	To             common.Address `json:"to"`
	Amount         string         `json:"amount"`
	FeeTotal       string         `json:"fee_total"`
	FeeBlockchain  string         `json:"fee_blockchain,omitempty"`
	Nonce          uint64         `json:"nonce"`
	Hash           common.Hash    `json:"hash"`
	Raw            hexutil.Bytes  `json:"raw"`
	Status         Status         `json:"status"`
	Version        int64          `json:"version"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	BlockNumber    uint64         `json:"block_number,omitempty"`
	BlockHash      common.Hash    `json:"block_hash"`
	Checks         int            `json:"checks,omitempty"`
	NextCheckAt    int64          `json:"next_check_at,omitempty"`
	CreatedAt      int64          `json:"created_at"`
	UpdatedAt      int64          `json:"updated_at"`
}

func encodeTransaction(tx Transaction) ([]byte, error) {
	c := cachedTransaction{
		ID: tx.ID, AccountID: tx.AccountID, From: tx.From, To: tx.To,
		Amount: decimal(tx.Amount), FeeTotal: decimal(tx.FeeTotal),
		Nonce: tx.Nonce, Hash: tx.Hash, Raw: tx.Raw, Status: tx.Status, Version: tx.Version,
		IdempotencyKey: tx.IdempotencyKey, BlockNumber: tx.BlockNumber, BlockHash: tx.BlockHash,
		Checks: tx.Checks, NextCheckAt: unixNano(tx.NextCheckAt),
		CreatedAt: unixNano(tx.CreatedAt), UpdatedAt: unixNano(tx.UpdatedAt),
	}
	if tx.FeeBlockchain != nil {
		c.FeeBlockchain = tx.FeeBlockchain.String()
	}
	return json.Marshal(c)
}

func decodeTransaction(b []byte) (Transaction, error) {
	var c cachedTransaction
	if err := json.Unmarshal(b, &c); err != nil {
		return Transaction{}, fmt.Errorf("consolidate: decode cached transaction: %w", err)
	}
	tx := Transaction{
		ID: c.ID, AccountID: c.AccountID, From: c.From, To: c.To,
		Nonce: c.Nonce, Hash: c.Hash, Raw: c.Raw, Status: c.Status, Version: c.Version,
		IdempotencyKey: c.IdempotencyKey, BlockNumber: c.BlockNumber, BlockHash: c.BlockHash,
		Checks: c.Checks, NextCheckAt: fromUnixNano(c.NextCheckAt),
		CreatedAt: fromUnixNano(c.CreatedAt), UpdatedAt: fromUnixNano(c.UpdatedAt),
	}
	var err error
	if tx.Amount, err = parseStored(c.Amount); err != nil {
		return Transaction{}, err
	}
	if tx.FeeTotal, err = parseStored(c.FeeTotal); err != nil {
		return Transaction{}, err
	}
	if c.FeeBlockchain != "" {
		if tx.FeeBlockchain, err = parseStored(c.FeeBlockchain); err != nil {
			return Transaction{}, err
		}
	}
	switch tx.Status {
	case StatusPending, StatusSuccessful, StatusFailed:
	default:
		return Transaction{}, fmt.Errorf("consolidate: decode cached transaction: status %q", c.Status)
	}
	return tx, nil
}

// parseStored reads a decimal amount in [0, 2^256).
func parseStored(s string) (*big.Int, error) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || v.Cmp(maxUint256) > 0 {
		return nil, fmt.Errorf("consolidate: decode amount %q", truncate(s))
	}
	return v, nil
}

func decimal(v *big.Int) string {
	if v == nil {
		return "0"
	}
	return v.String()
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// jitter spreads d uniformly by up to ±frac·d.
func jitter(d time.Duration, frac float64) time.Duration {
	if frac <= 0 || d <= 0 {
		return d
	}
	spread := float64(d) * frac
	return d + time.Duration((rand.Float64()*2-1)*spread)
}

// jitterMax is the longest duration jitter(d, frac) returns.
func jitterMax(d time.Duration, frac float64) time.Duration {
	if frac <= 0 || d <= 0 {
		return d
	}
	return d + time.Duration(float64(d)*frac)
}

// taskID names the reconcile task of a transaction; one per transaction, so
// enqueueing it again while it is live is a no-op.
func taskID(txID int64) string { return "tx:" + strconv.FormatInt(txID, 10) }

// parseTaskBody reads the transaction ID a reconcile task carries.
func parseTaskBody(b []byte) (int64, error) {
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("consolidate: reconcile task body %q is not a transaction id", truncate(string(b)))
	}
	return id, nil
}
