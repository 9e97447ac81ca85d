package chaintest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/hex"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// The contracts' sources, and the script that compiles them into these
// files, are in the contracts directory.
var (
	//go:embed contracts/Token.bin
	tokenBin string
	//go:embed contracts/FalseToken.bin
	falseTokenBin string
	//go:embed contracts/FeeToken.bin
	feeTokenBin string
	// The three contracts share Token's constructor and functions.
	//go:embed contracts/Token.abi
	tokenABI string
)

// TokenKind says which ERC-20 contract DeployToken deploys. Each mints its
// initial supply to the deployer, who alone may mint more.
type TokenKind int

const (
	// PlainToken is an ERC-20 that reverts a transfer beyond the sender's
	// balance or allowance (contracts/Token.sol).
	PlainToken TokenKind = iota
	// FalseToken returns false instead of reverting on such a transfer,
	// and emits no Transfer event: the transaction succeeds and moves
	// nothing (contracts/FalseToken.sol).
	FalseToken
	// FeeToken burns 1 % of every transfer, rounded down: the recipient
	// gets, and its Transfer event carries, the amount less the fee; a
	// second Transfer event to the zero address carries the fee
	// (contracts/FeeToken.sol).
	FeeToken
)

func (k TokenKind) String() string {
	switch k {
	case PlainToken:
		return "Token"
	case FalseToken:
		return "FalseToken"
	case FeeToken:
		return "FeeToken"
	}
	return fmt.Sprintf("TokenKind(%d)", int(k))
}

// TokenInitCode returns the code that deploys a token of kind whose name
// and symbol are symbol, with decimals, minting supply to whoever deploys
// it.
// Use it to deploy on another node, a geth --dev say; DeployToken is
// simpler on this one.
func TokenInitCode(kind TokenKind, symbol string, decimals uint8, supply *big.Int) ([]byte, error) {
	var bin string
	switch kind {
	case PlainToken:
		bin = tokenBin
	case FalseToken:
		bin = falseTokenBin
	case FeeToken:
		bin = feeTokenBin
	default:
		return nil, fmt.Errorf("chaintest: unknown token kind %v", kind)
	}
	if err := checkAmount(supply); err != nil {
		return nil, err
	}
	code, err := hex.DecodeString(string(bytes.TrimSpace([]byte(bin))))
	if err != nil {
		return nil, fmt.Errorf("chaintest: %v bytecode: %w", kind, err)
	}
	args, err := packToken("", symbol, symbol, decimals, supply)
	if err != nil {
		return nil, err
	}
	return append(code, args...), nil
}

// DeployToken deploys a token of kind with symbol (also its name),
// decimals and supply, all of it held by the sending wallet, and returns
// its address. The deployer wallet that DeployReverter uses pays and owns
// the token (MintToken), so the sending wallet's nonces are untouched. It
// mines two blocks, which also include whatever else is in the mempool.
func (c *Chain) DeployToken(ctx context.Context, kind TokenKind, symbol string, decimals uint8, supply *big.Int) (common.Address, error) {
	code, err := TokenInitCode(kind, symbol, decimals, new(big.Int))
	if err != nil {
		return common.Address{}, err
	}
	receipt, err := c.fromDeployer(ctx, nil, code)
	if err != nil {
		return common.Address{}, fmt.Errorf("chaintest: deploy %v: %w", kind, err)
	}
	// Minted rather than transferred, so a fee token's fee does not apply.
	if err := c.MintToken(ctx, receipt.ContractAddress, c.Sender(), supply); err != nil {
		return common.Address{}, err
	}
	return receipt.ContractAddress, nil
}

// MintToken mints amount of a token DeployToken deployed to to, and mines
// a block.
func (c *Chain) MintToken(ctx context.Context, token, to common.Address, amount *big.Int) error {
	if err := checkAmount(amount); err != nil {
		return err
	}
	data, err := packToken("mint", to, amount)
	if err != nil {
		return err
	}
	if _, err := c.fromDeployer(ctx, &token, data); err != nil {
		return fmt.Errorf("chaintest: mint %v of %s to %s: %w", amount, token, to, err)
	}
	return nil
}

// TokenBalanceOf returns holder's balance of token at the latest block.
func (c *Chain) TokenBalanceOf(ctx context.Context, token, holder common.Address) (*big.Int, error) {
	data, err := packToken("balanceOf", holder)
	if err != nil {
		return nil, err
	}
	out, err := c.Client().CallContract(ctx, ethereum.CallMsg{To: &token, Data: data}, nil)
	if err != nil {
		return nil, fmt.Errorf("chaintest: balance of %s in %s: %w", holder, token, err)
	}
	if len(out) != 32 {
		return nil, fmt.Errorf("chaintest: balance of %s in %s: answer %x is not one word", holder, token, out)
	}
	return new(big.Int).SetBytes(out), nil
}

// checkAmount rejects what a uint256 cannot hold, which the ABI encoder
// would not.
func checkAmount(x *big.Int) error {
	if x == nil || x.Sign() < 0 || x.BitLen() > 256 {
		return fmt.Errorf("chaintest: token amount %v outside [0, 2^256)", x)
	}
	return nil
}

// packToken encodes a call of Token's method, or its constructor's
// arguments when method is "".
func packToken(method string, args ...any) ([]byte, error) {
	parsed, err := abi.JSON(bytes.NewReader([]byte(tokenABI)))
	if err != nil {
		return nil, fmt.Errorf("chaintest: token ABI: %w", err)
	}
	data, err := parsed.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("chaintest: encode token call %q: %w", method, err)
	}
	return data, nil
}
