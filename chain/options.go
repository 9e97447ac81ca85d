package chain

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/params"
)

// Options configures a Chain. The zero value (or nil) means defaults.
type Options struct {
	// ChainID is the EIP-155 chain ID transactions are signed for.
	// Defaults to asking the node once in New.
	ChainID *big.Int
	// Confirmations is how many blocks deep (counting the block that holds
	// it) a transaction must be to count as final when the node's finalized
	// block has not reached it yet. Set it to math.MaxUint64 to trust only
	// the node's finalized block. Defaults to 12; chaintest's in-process
	// chain (Chain.NewChain) defaults it to 1.
	Confirmations uint64
	// GasLimit is the gas limit of a transfer to an address without code.
	// Defaults to 21000.
	GasLimit uint64
	// ContractGasLimit is the gas limit of a transfer to an address with
	// code (a contract, or an account delegated under EIP-7702), whose code
	// runs on receipt. A recipient that needs more gas reverts and the
	// transfer fails with the fee charged. Defaults to 100000.
	ContractGasLimit uint64
	// MaxFeePerGas caps the fee cap (maxFeePerGas) of every quote. Quote
	// fails with ErrFeeTooHigh when the network's current base fee plus tip
	// is above it, and Bump when a replacement would have to offer more.
	// Defaults to 500 gwei.
	MaxFeePerGas *big.Int
	// GasTipCap is the priority fee (maxPriorityFeePerGas) of every quote,
	// and the least a bump offers. Defaults to the node's suggestion
	// (eth_maxPriorityFeePerGas) at the time of each Quote or Bump.
	GasTipCap *big.Int
}

const (
	defaultConfirmations    = 12
	defaultGasLimit         = params.TxGas // 21000
	defaultContractGasLimit = 100_000
	defaultMaxFeePerGas     = 500 * params.GWei
)

// withDefaults returns a copy of o with every zero field set to its
// default. Big integers are copied so later changes by the caller do not
// leak into a running Chain.
func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	out.ChainID = copyBig(out.ChainID)
	out.GasTipCap = copyBig(out.GasTipCap)
	out.MaxFeePerGas = copyBig(out.MaxFeePerGas)
	if out.Confirmations == 0 {
		out.Confirmations = defaultConfirmations
	}
	if out.GasLimit == 0 {
		out.GasLimit = defaultGasLimit
	}
	if out.ContractGasLimit == 0 {
		out.ContractGasLimit = defaultContractGasLimit
	}
	if out.MaxFeePerGas == nil {
		out.MaxFeePerGas = big.NewInt(defaultMaxFeePerGas)
	}
	return out
}

func (o *Options) validate() error {
	switch {
	case o.ChainID != nil && o.ChainID.Sign() <= 0:
		return fmt.Errorf("consolidate: chain: ChainID must be positive, got %v", o.ChainID)
	case o.GasLimit < params.TxGas:
		return fmt.Errorf("consolidate: chain: GasLimit %d is below the %d a transfer needs", o.GasLimit, params.TxGas)
	case o.ContractGasLimit < params.TxGas:
		return fmt.Errorf("consolidate: chain: ContractGasLimit %d is below the %d a transfer needs", o.ContractGasLimit, params.TxGas)
	case o.MaxFeePerGas.Sign() <= 0 || o.MaxFeePerGas.BitLen() > 256:
		return fmt.Errorf("consolidate: chain: MaxFeePerGas must be in (0, 2^256), got %v", o.MaxFeePerGas)
	case o.GasTipCap != nil && (o.GasTipCap.Sign() < 0 || o.GasTipCap.Cmp(o.MaxFeePerGas) > 0):
		return fmt.Errorf("consolidate: chain: GasTipCap %v must be in [0, MaxFeePerGas]", o.GasTipCap)
	}
	return nil
}

func copyBig(x *big.Int) *big.Int {
	if x == nil {
		return nil
	}
	return new(big.Int).Set(x)
}
