package httpapi

import (
	"context"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// transactionView is a transaction as the API shows it. Amounts are
// decimal strings in the smallest unit of the account's asset (wei for
// ether; the names say wei, as they did before tokens): JSON numbers lose
// precision above 2^53 in most clients.
type transactionView struct {
	ID            int64     `json:"id"`
	AccountID     int64     `json:"user_account_id"`
	Hash          *string   `json:"transaction_hash"` // null while reserved, not signed yet
	From          string    `json:"from_public_address"`
	To            string    `json:"to_public_address"`
	Amount        string    `json:"transaction_amount_in_wei"`
	FeeTotal      string    `json:"transaction_fee_total_in_wei"`
	FeeBlockchain *string   `json:"transaction_fee_blockchain_in_wei"` // null until mined and final; always wei
	Asset         assetView `json:"asset"`
	Status        string    `json:"status"`
	// IdempotencyKey is shown only to those who can read the transaction
	// anyway, and helps them match it to their request.
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func newTransactionView(tx consolidate.Transaction, asset assetView) transactionView {
	v := transactionView{
		Asset:          asset,
		ID:             tx.ID,
		AccountID:      tx.AccountID,
		From:           tx.From.Hex(),
		To:             tx.To.Hex(),
		Amount:         decimal(tx.Amount),
		FeeTotal:       decimal(tx.FeeTotal),
		Status:         string(tx.Status),
		IdempotencyKey: tx.IdempotencyKey,
		CreatedAt:      tx.CreatedAt.UTC(),
		UpdatedAt:      tx.UpdatedAt.UTC(),
	}
	if tx.Hash != (common.Hash{}) {
		h := tx.Hash.Hex()
		v.Hash = &h
	}
	if tx.FeeBlockchain != nil {
		s := tx.FeeBlockchain.String()
		v.FeeBlockchain = &s
	}
	return v
}

// accountView is an account as the API shows it, its balances in its
// asset's smallest unit.
type accountView struct {
	ID        int64     `json:"id"`
	Asset     assetView `json:"asset"`
	Available string    `json:"available_balance_in_wei"`
	Current   string    `json:"current_balance_in_wei"`
}

func newAccountView(a consolidate.Account, asset assetView) accountView {
	return accountView{ID: a.ID, Asset: asset, Available: decimal(a.Available), Current: decimal(a.Current)}
}

// assetView names the asset of an account or a transfer: ether, or an
// ERC-20 token by its contract address.
type assetView struct {
	Symbol   string  `json:"symbol"`        // empty if the token could not be read
	Decimals uint8   `json:"decimals"`      // how people write amounts; the API's are integers
	Token    *string `json:"token_address"` // null for ether
}

// assetOf names token as svc knows it. A token whose symbol cannot be
// read now (or one the Service is not configured with) is named by its
// address alone.
func assetOf(ctx context.Context, svc *consolidate.Service, token common.Address) assetView {
	if token == (common.Address{}) {
		return assetView{Symbol: "ETH", Decimals: 18}
	}
	addr := token.Hex()
	t, err := svc.Token(ctx, token)
	if err != nil {
		return assetView{Token: &addr}
	}
	return assetView{Symbol: t.Symbol, Decimals: t.Decimals, Token: &addr}
}

// pageView is one page of an account's transactions, newest first.
type pageView struct {
	Transactions []transactionView `json:"transactions"`
	// NextBefore is the before parameter of the next (older) page; null
	// when this page was not full, so no older transaction is left.
	NextBefore *int64 `json:"next_before"`
}

func decimal(v *big.Int) string {
	if v == nil {
		return "0"
	}
	return v.String()
}
