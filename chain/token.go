package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/go-consolidate/consolidate"
)

// Errors of token reads and quotes, matched with errors.Is.
var (
	// ErrNotToken: the address does not answer as an ERC-20 token: it has
	// no code, or balanceOf, symbol or decimals reverts or returns
	// something that does not decode (decimals above 255, say).
	ErrNotToken = errors.New("consolidate: chain: not an ERC-20 token")
	// ErrTransferReverts: estimating a token transfer found that it would
	// revert, most often because the wallet holds less of the token than
	// the amount; a paused token or a blocked address does the same. It is
	// consolidate.ErrWouldRevert.
	ErrTransferReverts = consolidate.ErrWouldRevert
)

// contractClient is a Client that calls contracts and estimates gas;
// *ethclient.Client and the simulated backend's client are.
type contractClient interface {
	CallContract(ctx context.Context, call ethereum.CallMsg, blockNumber *big.Int) ([]byte, error)
	EstimateGas(ctx context.Context, call ethereum.CallMsg) (uint64, error)
}

var _ contractClient = (*ethclient.Client)(nil)

// TokenBalance returns the sending wallet's balance of token, in the
// token's smallest unit, at the latest block, and the wallet's nonce at
// that block: its transfers with that nonce or above are not in the
// balance yet. A Client that cannot call contracts gives an error
// wrapping errors.ErrUnsupported.
func (c *Chain) TokenBalance(ctx context.Context, token common.Address) (*big.Int, uint64, error) {
	fail := func(err error) (*big.Int, uint64, error) {
		return nil, 0, fmt.Errorf("consolidate: chain: balance of %s in %s: %w", c.sender, token, err)
	}
	if c.client == nil {
		return fail(errNotNew)
	}
	head, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return fail(err)
	}
	data := append(bytes.Clone(balanceOfSelector), common.LeftPadBytes(c.sender[:], wordLen)...)
	out, err := c.callAt(ctx, token, data, head.Number)
	if err != nil {
		return fail(err)
	}
	if len(out) != wordLen {
		return fail(fmt.Errorf("%w: balanceOf returned %d bytes", ErrNotToken, len(out)))
	}
	nonce, err := c.client.NonceAt(ctx, c.sender, head.Number)
	if err != nil {
		return fail(err)
	}
	return new(big.Int).SetBytes(out), nonce, nil
}

// TokenInfo reads token's symbol() and decimals(). A symbol returned as
// bytes32 instead of a string, as some early tokens do, is read up to its
// first zero byte. A token without either function, or whose answer does
// not decode to valid UTF-8 and a number up to 255, gives an error
// wrapping ErrNotToken: amounts are never shown with guessed decimals.
func (c *Chain) TokenInfo(ctx context.Context, token common.Address) (symbol string, decimals uint8, err error) {
	out, err := c.call(ctx, token, symbolSelector)
	if err != nil {
		return "", 0, fmt.Errorf("consolidate: chain: symbol of %s: %w", token, err)
	}
	if symbol, err = decodeSymbol(out); err != nil {
		return "", 0, fmt.Errorf("consolidate: chain: symbol of %s: %w", token, err)
	}
	out, err = c.call(ctx, token, decimalsSelector)
	if err != nil {
		return "", 0, fmt.Errorf("consolidate: chain: decimals of %s: %w", token, err)
	}
	if len(out) != wordLen || new(big.Int).SetBytes(out).BitLen() > 8 {
		return "", 0, fmt.Errorf("consolidate: chain: decimals of %s: %w: answer %s", token, ErrNotToken, dataString(out))
	}
	return symbol, out[wordLen-1], nil
}

// SignToken builds and signs an EIP-1559 call of transfer(to, amount) on
// the token contract: To is token, Value is zero and Data is
// TransferData(to, amount). It signs and checks the signature as Sign
// does. Price it with QuoteToken: Quote's gas limit is for ether.
//
// A zero token or recipient, or a recipient that is the token itself (a
// common way to lose tokens) is an error wrapping
// consolidate.ErrInvalidAddress.
func (c *Chain) SignToken(ctx context.Context, nonce uint64, token, to common.Address, amount *big.Int, q consolidate.Quote) (consolidate.SignedTx, error) {
	data, err := c.tokenTransfer(token, to, amount)
	if err != nil {
		return consolidate.SignedTx{}, err
	}
	return c.signQuoted(ctx, nonce, token, new(big.Int), data, q)
}

// tokenGasMargin is the share of the estimate added to a token transfer's
// gas limit (1/4, so 25 %): the estimate holds for the state it ran on,
// and a first transfer to a new holder or a token's own bookkeeping can
// cost more by the time the transaction is mined. Unused gas is refunded.
const tokenGasMargin = 4

// QuoteToken prices a transfer of amount of token to to, as SignToken
// builds it:
//
//   - gas limit: eth_estimateGas of the call from the sending wallet at
//     the latest block, plus 25 %;
//   - tip and fee cap: as Quote prices them.
//
// A token address without code is an error wrapping ErrNotToken, and a
// transfer that would revert (too little of the token, say) one wrapping
// ErrTransferReverts. A token that returns false instead of reverting is
// not caught here: only the receipt's Transfer events (TokenTransfers)
// show whether tokens moved.
func (c *Chain) QuoteToken(ctx context.Context, token, to common.Address, amount *big.Int) (consolidate.Quote, error) {
	data, err := c.tokenTransfer(token, to, amount)
	if err != nil {
		return consolidate.Quote{}, err
	}
	cc, ok := c.client.(contractClient)
	if !ok {
		return consolidate.Quote{}, fmt.Errorf("consolidate: chain: quote token: %w", errors.ErrUnsupported)
	}
	// A call to an address without code succeeds and moves nothing, so
	// the estimate alone would not notice a wrong token address.
	code, err := c.client.CodeAt(ctx, token, nil)
	if err != nil {
		return consolidate.Quote{}, fmt.Errorf("consolidate: chain: quote token: code at %s: %w", token, err)
	}
	if len(code) == 0 {
		return consolidate.Quote{}, fmt.Errorf("consolidate: chain: quote token: %w: no code at %s", ErrNotToken, token)
	}
	est, err := cc.EstimateGas(ctx, ethereum.CallMsg{From: c.sender, To: &token, Data: data})
	switch {
	case reverted(err):
		return consolidate.Quote{}, fmt.Errorf("%w: %s of %s to %s: %w", ErrTransferReverts, amount, token, to, err)
	case err != nil:
		return consolidate.Quote{}, fmt.Errorf("consolidate: chain: quote token: estimate gas: %w", err)
	case est < params.TxGas || est > params.MaxTxGas:
		return consolidate.Quote{}, fmt.Errorf("consolidate: chain: quote token: node estimated %d gas", est)
	}
	baseFee, tip, err := c.market(ctx)
	if err != nil {
		return consolidate.Quote{}, fmt.Errorf("consolidate: chain: quote token: %w", err)
	}
	return feeQuote(est+est/tokenGasMargin, baseFee, tip, c.opts.MaxFeePerGas)
}

// tokenTransfer checks a token transfer as checkTransfer checks one of
// ether, and returns its calldata.
func (c *Chain) tokenTransfer(token, to common.Address, amount *big.Int) ([]byte, error) {
	if err := c.checkTransfer(to, amount); err != nil {
		return nil, err
	}
	switch {
	case token == (common.Address{}):
		return nil, fmt.Errorf("%w: zero token address", consolidate.ErrInvalidAddress)
	case token == to:
		return nil, fmt.Errorf("%w: recipient %s is the token contract", consolidate.ErrInvalidAddress, to)
	}
	return TransferData(to, amount)
}

// call runs a read-only call of token from the sending wallet at the
// latest block. A revert is ErrNotToken: every function called this way
// is one an ERC-20 token answers.
func (c *Chain) call(ctx context.Context, token common.Address, data []byte) ([]byte, error) {
	return c.callAt(ctx, token, data, nil)
}

// callAt is call at block number (nil: the latest).
func (c *Chain) callAt(ctx context.Context, token common.Address, data []byte, number *big.Int) ([]byte, error) {
	if c.client == nil {
		return nil, errNotNew
	}
	cc, ok := c.client.(contractClient)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	out, err := cc.CallContract(ctx, ethereum.CallMsg{From: c.sender, To: &token, Data: data}, number)
	switch {
	case reverted(err):
		return nil, fmt.Errorf("%w: %w", ErrNotToken, err)
	case err != nil:
		return nil, err
	case len(out) == 0:
		return nil, fmt.Errorf("%w: empty answer (no code at the address?)", ErrNotToken)
	}
	return out, nil
}

// reverted reports whether err is the node saying the call reverted, in
// go-ethereum's words ("execution reverted", with or without a reason).
func reverted(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "execution reverted")
}

// decodeSymbol reads an ABI-encoded string, or a bytes32 cut at its first
// zero byte.
func decodeSymbol(out []byte) (string, error) {
	var s []byte
	if len(out) == wordLen {
		s, _, _ = bytes.Cut(out, []byte{0})
	} else {
		var ok bool
		if s, ok = abiBytes(out); !ok {
			return "", fmt.Errorf("%w: answer %s is not a string", ErrNotToken, dataString(out))
		}
	}
	if len(s) == 0 || !utf8.Valid(s) {
		return "", fmt.Errorf("%w: symbol %q is empty or not UTF-8", ErrNotToken, s)
	}
	return string(s), nil
}

// abiBytes decodes a return value that is one dynamic string or bytes: an
// offset word, then at the offset a length word and the bytes.
func abiBytes(out []byte) ([]byte, bool) {
	off, ok := wordInt(out, 0)
	if !ok {
		return nil, false
	}
	n, ok := wordInt(out, off)
	if !ok || n > len(out)-off-wordLen {
		return nil, false
	}
	start := off + wordLen
	return out[start : start+n], true
}

// wordInt reads the word at offset at of out as a non-negative int; ok is
// false if the word is not wholly inside out or its value does not fit in
// out's length.
func wordInt(out []byte, at int) (int, bool) {
	if at < 0 || at > len(out)-wordLen {
		return 0, false
	}
	v := new(big.Int).SetBytes(out[at : at+wordLen])
	if !v.IsInt64() || v.Int64() > int64(len(out)) {
		return 0, false
	}
	return int(v.Int64()), true
}
