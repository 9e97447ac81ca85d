package consolidate

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// Transfer is what one transaction moves from the sending wallet: Amount
// wei to To when Token is the zero address (ether), else Amount of the
// ERC-20 token whose contract is Token, in its smallest unit, by a call to
// the token's transfer(To, Amount) that sends no ether.
type Transfer struct {
	Token  common.Address
	To     common.Address
	Amount *big.Int
}

// TokenTransfer is one ERC-20 Transfer event in a receipt: Amount of the
// token at Token moved from From to To.
type TokenTransfer struct {
	Token  common.Address
	From   common.Address
	To     common.Address
	Amount *big.Int
}

// Token is an ERC-20 token that accounts may hold (Config.Tokens).
type Token struct {
	// Address is the token's contract.
	Address common.Address
	// Symbol and Decimals say how people write the token's amounts
	// (USDC, 6). The library never uses them for money: amounts are always
	// integers in the token's smallest unit. When Symbol is empty, both
	// are read from the contract the first time they are needed, through
	// a Chain that implements TokenReader.
	Symbol   string
	Decimals uint8
	// Fee is what an account holding the token is charged per transfer,
	// in the token's smallest unit; the wallet pays the gas in ether.
	// Defaults to zero.
	Fee *big.Int
}

// TokenReader is an optional capability of a Chain: what its sending
// wallet holds of an ERC-20 token, and the token's symbol and decimals.
// The Service needs it for every configured token: Submit refuses a token
// transfer that the wallets cannot cover (ErrWalletUnderfunded) instead of
// letting it fail on chain.
type TokenReader interface {
	// TokenBalance returns the wallet's balance of token at the latest
	// block, and the wallet's nonce at that block: its transfers with
	// that nonce or above are not in the balance yet.
	TokenBalance(ctx context.Context, token common.Address) (balance *big.Int, nonce uint64, err error)
	TokenInfo(ctx context.Context, token common.Address) (symbol string, decimals uint8, err error)
}

// delivered reports whether a mined transfer did what it was asked. Ether
// moves with the transaction, so receipt status 1 is the evidence. A token
// moves only if its contract says so: the receipt must also carry the
// token's Transfer event from the wallet to the recipient of exactly the
// amount. A token that returns false without reverting, or keeps part of
// the amount as a fee on transfer, has not delivered.
func delivered(tx Transaction, st ChainStatus) bool {
	if !st.Success {
		return false
	}
	if tx.Token == (common.Address{}) {
		return true
	}
	for _, e := range st.Transfers {
		if e.Token == tx.Token && e.From == tx.From && e.To == tx.To && e.Amount != nil && e.Amount.Cmp(tx.Amount) == 0 {
			return true
		}
	}
	return false
}

// transferOf is the transfer a transaction asks for.
func transferOf(tx Transaction) Transfer {
	return Transfer{Token: tx.Token, To: tx.To, Amount: tx.Amount}
}
