package chain_test

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	sim, _ := setup(t, nil)
	ctx := t.Context()
	reverter, err := sim.DeployReverter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, err := sim.Client().HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := head.BaseFee
	suggested, err := sim.Client().SuggestGasTipCap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tip := big.NewInt(3)
	twiceBasePlus := func(tip *big.Int) *big.Int { return new(big.Int).Add(new(big.Int).Lsh(base, 1), tip) }
	plain := randomAddress(t)

	for _, tc := range []struct {
		name string
		opts chain.Options
		to   common.Address
		want consolidate.Quote
		err  error
	}{
		{"defaults", chain.Options{}, plain,
			consolidate.Quote{GasLimit: 21000, GasTipCap: suggested, GasFeeCap: twiceBasePlus(suggested)}, nil},
		{"contract recipient", chain.Options{}, reverter,
			consolidate.Quote{GasLimit: 100_000, GasTipCap: suggested, GasFeeCap: twiceBasePlus(suggested)}, nil},
		{"configured limits and tip", chain.Options{GasLimit: 30_000, ContractGasLimit: 50_000, GasTipCap: tip}, reverter,
			consolidate.Quote{GasLimit: 50_000, GasTipCap: tip, GasFeeCap: twiceBasePlus(tip)}, nil},
		// Base fee + tip still fits under the cap: the fee cap is lowered
		// to it rather than the quote refused.
		{"fee cap lowered to MaxFeePerGas", chain.Options{GasTipCap: tip, MaxFeePerGas: new(big.Int).Add(base, big.NewInt(10))}, plain,
			consolidate.Quote{GasLimit: 21000, GasTipCap: tip, GasFeeCap: new(big.Int).Add(base, big.NewInt(10))}, nil},
		{"network above MaxFeePerGas", chain.Options{GasTipCap: tip, MaxFeePerGas: new(big.Int).Add(base, big.NewInt(2))}, plain,
			consolidate.Quote{}, chain.ErrFeeTooHigh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := sim.NewChain(&tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			q, err := c.Quote(ctx, consolidate.Transfer{To: tc.to, Amount: big.NewInt(1)})
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if q.GasLimit != tc.want.GasLimit || q.GasTipCap.Cmp(tc.want.GasTipCap) != 0 || q.GasFeeCap.Cmp(tc.want.GasFeeCap) != 0 {
				t.Fatalf("quote %+v, want %+v", q, tc.want)
			}
		})
	}
}

func TestQuoteRejectsBadInput(t *testing.T) {
	t.Parallel()
	_, c := setup(t, nil)
	for _, tc := range []struct {
		to     common.Address
		amount *big.Int
		want   error
	}{
		{common.Address{}, big.NewInt(1), consolidate.ErrInvalidAddress},
		{c.Sender(), big.NewInt(1), consolidate.ErrSelfTransfer},
		{common.HexToAddress("0xaa"), nil, consolidate.ErrInvalidAmount},
		{common.HexToAddress("0xaa"), big.NewInt(-5), consolidate.ErrInvalidAmount},
	} {
		if _, err := c.Quote(t.Context(), consolidate.Transfer{To: tc.to, Amount: tc.amount}); !errors.Is(err, tc.want) {
			t.Errorf("Quote(%s, %v): %v, want %v", tc.to, tc.amount, err, tc.want)
		}
	}
}

func TestNewRejectsBadArguments(t *testing.T) {
	t.Parallel()
	sim, _ := setup(t, nil)
	ctx := t.Context()
	for name, opts := range map[string]chain.Options{
		"chain ID 0":               {ChainID: big.NewInt(0)},
		"gas limit under 21000":    {GasLimit: 20_000},
		"contract gas under 21000": {ContractGasLimit: 1},
		"negative max fee":         {MaxFeePerGas: big.NewInt(-1)},
		"tip above max fee":        {GasTipCap: big.NewInt(2), MaxFeePerGas: big.NewInt(1)},
	} {
		if _, err := chain.New(ctx, sim.Client(), sim.Key(), &opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := chain.New(ctx, nil, sim.Key(), nil); err == nil {
		t.Error("nil client: New succeeded")
	}
	if _, err := chain.New(ctx, sim.Client(), nil, nil); err == nil {
		t.Error("nil key: New succeeded")
	}
	broken := *sim.Key()
	broken.D = big.NewInt(0)
	if _, err := chain.New(ctx, sim.Client(), &broken, nil); err == nil {
		t.Error("zero key: New succeeded")
	}

	c, err := chain.New(ctx, sim.Client(), sim.Key(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ChainID().Int64() != chaintest.ChainID || c.Sender() != sim.Sender() {
		t.Fatalf("chain ID %v (asked the node), sender %s", c.ChainID(), c.Sender())
	}
}

func TestDial(t *testing.T) {
	t.Parallel()
	key := offlineKey(t)
	// Nothing listens on port 1: asking for the chain ID fails.
	if _, err := chain.Dial(t.Context(), "http://127.0.0.1:1", key, nil); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
	// With the chain ID given, Dial does no I/O over HTTP.
	c, err := chain.Dial(t.Context(), "http://127.0.0.1:1", key, &chain.Options{ChainID: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Nonce(t.Context()); err == nil {
		t.Fatal("Nonce through a closed port succeeded")
	}
}
