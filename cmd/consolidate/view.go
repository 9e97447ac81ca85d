package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
)

// Amounts are printed exactly, in the smallest unit of their asset (wei
// for ether), in tables and in JSON (as strings: JSON numbers lose
// precision past 2^53). Token is the asset's ERC-20 contract, empty for
// ether.

type accountView struct {
	ID        int64  `json:"id"`
	Token     string `json:"token_address,omitempty"`
	Available string `json:"available"`
	Current   string `json:"current"`
	Held      string `json:"held"` // current − available: what PENDING transfers hold
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func newAccountView(a consolidate.Account) accountView {
	return accountView{
		ID:        a.ID,
		Token:     tokenHex(a.Token),
		Available: wei(a.Available),
		Current:   wei(a.Current),
		Held:      wei(new(big.Int).Sub(orZero(a.Current), orZero(a.Available))),
		CreatedAt: stamp(a.CreatedAt),
		UpdatedAt: stamp(a.UpdatedAt),
	}
}

type transferView struct {
	ID             int64         `json:"id"`
	AccountID      int64         `json:"account_id"`
	Status         string        `json:"status"`
	Parked         *bool         `json:"parked,omitempty"`
	From           string        `json:"from"`
	To             string        `json:"to"`
	Token          string        `json:"token_address,omitempty"`
	Amount         string        `json:"amount"`
	FeeTotal       string        `json:"fee_total"`
	FeeBlockchain  string        `json:"fee_blockchain,omitempty"`
	Nonce          uint64        `json:"nonce"`
	Hash           string        `json:"hash"`
	BlockNumber    uint64        `json:"block_number,omitempty"`
	BlockHash      string        `json:"block_hash,omitempty"`
	Checks         int           `json:"checks"`
	NextCheckAt    string        `json:"next_check_at,omitempty"`
	IdempotencyKey string        `json:"idempotency_key,omitempty"`
	CreatedAt      string        `json:"created_at"`
	UpdatedAt      string        `json:"updated_at"`
	Attempts       []attemptView `json:"attempts,omitempty"`
}

type attemptView struct {
	Hash      string `json:"hash"`
	Cancel    bool   `json:"cancel"`
	GasLimit  uint64 `json:"gas_limit,omitempty"`
	GasTipCap string `json:"gas_tip_cap,omitempty"`
	GasFeeCap string `json:"gas_fee_cap,omitempty"`
	CreatedAt string `json:"created_at"`
}

func newTransferView(t consolidate.Transaction) transferView {
	v := transferView{
		ID:             t.ID,
		AccountID:      t.AccountID,
		Status:         string(t.Status),
		From:           t.From.Hex(),
		To:             t.To.Hex(),
		Token:          tokenHex(t.Token),
		Amount:         wei(t.Amount),
		FeeTotal:       wei(t.FeeTotal),
		Nonce:          t.Nonce,
		Hash:           t.Hash.Hex(),
		BlockNumber:    t.BlockNumber,
		Checks:         t.Checks,
		NextCheckAt:    stamp(t.NextCheckAt),
		IdempotencyKey: t.IdempotencyKey,
		CreatedAt:      stamp(t.CreatedAt),
		UpdatedAt:      stamp(t.UpdatedAt),
	}
	if t.FeeBlockchain != nil {
		v.FeeBlockchain = t.FeeBlockchain.String()
	}
	if t.BlockHash != (common.Hash{}) {
		v.BlockHash = t.BlockHash.Hex()
	}
	return v
}

func newAttemptView(a consolidate.Attempt) attemptView {
	v := attemptView{Hash: a.Hash.Hex(), Cancel: a.Cancel, GasLimit: a.Quote.GasLimit, CreatedAt: stamp(a.CreatedAt)}
	if a.Quote.GasTipCap != nil {
		v.GasTipCap = a.Quote.GasTipCap.String()
	}
	if a.Quote.GasFeeCap != nil {
		v.GasFeeCap = a.Quote.GasFeeCap.String()
	}
	return v
}

// wei prints an amount exactly; nil (not known) is "".
// tokenHex is a token's address, or "" for ether.
func tokenHex(token common.Address) string {
	if token == (common.Address{}) {
		return ""
	}
	return token.Hex()
}

// unit names the smallest unit of an asset given as tokenHex gives it.
func unit(token string) string {
	if token == "" {
		return "wei"
	}
	return "units of " + token
}

// asset names an asset in a table cell.
func asset(token common.Address) string {
	if token == (common.Address{}) {
		return "ETH"
	}
	return token.Hex()[:10] + "…"
}

func wei(x *big.Int) string {
	if x == nil {
		return ""
	}
	return x.String()
}

func orZero(x *big.Int) *big.Int {
	if x == nil {
		return new(big.Int)
	}
	return x
}

// stamp prints a time in UTC, to the nanosecond the stores keep; the
// zero time (not set) is "".
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// short prints a time for a table: UTC to the second.
func short(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// age prints how long ago t was, to the second.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Truncate(time.Second).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// pairs writes label and value lines, aligned.
func pairs(w io.Writer, kv ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s\t%s\n", kv[i], kv[i+1])
	}
	return tw.Flush()
}
