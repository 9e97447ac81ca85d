package chain

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/go-consolidate/consolidate"
)

// TestClassify feeds classify the errors go-ethereum's pool and RPC layer
// return, wrapped the way geth wraps them, both as Go errors (an
// in-process node) and as bare messages (what JSON-RPC delivers).
func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want error // nil: success; errTransient: none of the sentinels
	}{
		{txpool.ErrAlreadyKnown, nil},
		{errors.New("known transaction: 0x1234"), nil},
		{errors.New("Known Transaction"), nil},

		{fmt.Errorf("%w: next nonce 5, tx nonce 3", core.ErrNonceTooLow), ErrNonceTooLow},
		{errors.New("Nonce Too Low"), ErrNonceTooLow}, // matching ignores case

		{txpool.ErrReplaceUnderpriced, ErrUnderpriced},
		{txpool.ErrUnderpriced, ErrUnderpriced},
		{fmt.Errorf("%w: gas tip cap 1, minimum needed 1000000", txpool.ErrTxGasPriceTooLow), ErrUnderpriced},
		{fmt.Errorf("%w: address 0xab, maxFeePerGas: 1, baseFee: 7", core.ErrFeeCapTooLow), ErrUnderpriced},
		{types.ErrGasFeeCapTooLow, ErrUnderpriced},

		{fmt.Errorf("%w: balance 0, tx cost 21000, overshot 21000", core.ErrInsufficientFunds), ErrWalletUnderfunded},
		{fmt.Errorf("%w: address 0xab have 0 want 1", core.ErrInsufficientFundsForTransfer), ErrWalletUnderfunded},

		{fmt.Errorf("%w: gas 20000, minimum needed 21000", core.ErrIntrinsicGas), consolidate.ErrRejected},
		{fmt.Errorf("%w: gas 21000, minimum needed 21400", core.ErrFloorDataGas), consolidate.ErrRejected},
		{fmt.Errorf("%w: %v", txpool.ErrInvalidSender, types.ErrInvalidChainId), consolidate.ErrRejected},
		{fmt.Errorf("%w: invalid transaction v, r, s values", txpool.ErrInvalidSender), consolidate.ErrRejected},
		{types.ErrInvalidChainId, consolidate.ErrRejected},
		{errors.New("chain id mismatch"), consolidate.ErrRejected},
		{errors.New("only replay-protected (EIP-155) transactions allowed over RPC"), consolidate.ErrRejected},
		{txpool.ErrGasLimit, consolidate.ErrRejected},
		{fmt.Errorf("%w (cap: 16777216, tx: 33554432)", core.ErrGasLimitTooHigh), consolidate.ErrRejected},
		{errors.New("tx fee (1.50 ether) exceeds the configured cap (1.00 ether)"), consolidate.ErrRejected},
		{fmt.Errorf("%w: transaction size 200000, limit 131072", txpool.ErrOversizedData), consolidate.ErrRejected},
		{core.ErrTipAboveFeeCap, consolidate.ErrRejected},
		{core.ErrTipVeryHigh, consolidate.ErrRejected},
		{core.ErrFeeCapVeryHigh, consolidate.ErrRejected},
		{txpool.ErrNegativeValue, consolidate.ErrRejected},
		{core.ErrNonceMax, consolidate.ErrRejected},
		{fmt.Errorf("%w: tx type 3 not supported by this pool", core.ErrTxTypeNotSupported), consolidate.ErrRejected},

		{errors.New("transaction indexing is in progress"), errTransient},
		{fmt.Errorf("%w: tx nonce 9, gapped nonce 7", core.ErrNonceTooHigh), errTransient},
		{legacypool.ErrTxPoolOverflow, errTransient},
		{fmt.Errorf("%w: pooled 16 txs", txpool.ErrAccountLimitExceeded), errTransient},
		{legacypool.ErrFutureReplacePending, errTransient},
		{txpool.ErrAlreadyReserved, errTransient},
		{errors.New("Post \"http://node:8545\": dial tcp: connection refused"), errTransient},
		{context.DeadlineExceeded, errTransient},
	}
	sentinels := []error{ErrNonceTooLow, ErrUnderpriced, ErrWalletUnderfunded, consolidate.ErrRejected}
	for _, tc := range cases {
		for _, err := range []error{tc.err, errors.New(tc.err.Error())} {
			got := classify(err)
			switch {
			case tc.want == nil:
				if got != nil {
					t.Errorf("%q: got %v, want success", err, got)
				}
				continue
			case got == nil:
				t.Errorf("%q: got success, want an error", err)
				continue
			case !errors.Is(got, err):
				t.Errorf("%q: the node's error is not wrapped in %v", err, got)
			}
			for _, s := range sentinels {
				if errors.Is(got, s) != (s == tc.want) {
					t.Errorf("%q: errors.Is(%v, %v) = %v", err, got, s, !(s == tc.want))
				}
			}
		}
	}
	if classify(nil) != nil {
		t.Error("classify(nil) is not nil")
	}
}

// errTransient marks table rows that must match none of the sentinels.
var errTransient = errors.New("transient")
