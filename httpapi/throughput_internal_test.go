package httpapi

import (
	"math/big"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

func TestCountSettlements(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 10, 30, 20, 0, time.UTC)
	at := func(ago time.Duration, s consolidate.Status) consolidate.Transaction {
		return consolidate.Transaction{Status: s, UpdatedAt: now.Add(-ago)}
	}
	txs := []consolidate.Transaction{
		at(0, consolidate.StatusSuccessful),                                   // this minute
		at(20*time.Second, consolidate.StatusFailed),                          // 10:30:00, this minute
		at(21*time.Second, consolidate.StatusSuccessful),                      // 10:29:59, the minute before
		at(0, consolidate.StatusPending),                                      // not final
		at(14*time.Minute+20*time.Second, consolidate.StatusSuccessful),       // 10:16:00, the first minute shown
		at(14*time.Minute+21*time.Second, consolidate.StatusSuccessful),       // 10:15:59, before the window
		{Status: consolidate.StatusSuccessful, UpdatedAt: now.Add(time.Hour)}, // a clock ahead
	}
	r := countSettlements(txs, now, true)
	if len(r.Minutes) != throughputMinutes || !r.LowerBound {
		t.Fatalf("report: %+v", r)
	}
	if first, last := r.Minutes[0].Start, r.Minutes[throughputMinutes-1].Start; !first.Equal(time.Date(2026, 1, 2, 10, 16, 0, 0, time.UTC)) || !last.Equal(time.Date(2026, 1, 2, 10, 30, 0, 0, time.UTC)) {
		t.Fatalf("window %v to %v", first, last)
	}
	want := map[int][2]int{0: {1, 0}, 13: {1, 0}, 14: {1, 1}}
	for i, m := range r.Minutes {
		w := want[i]
		if m.Successful != w[0] || m.Failed != w[1] {
			t.Errorf("minute %d (%s): %d successful, %d failed, want %v", i, m.Start.Format("15:04"), m.Successful, m.Failed, w)
		}
	}
	c := newChart(r)
	if c.Total != 4 || c.Max != 2 || len(c.Bars) != throughputMinutes || c.Bars[14].H <= c.Bars[13].H || c.Bars[14].FailedH == 0 || c.Bars[1].H != 0 {
		t.Fatalf("chart: %+v", c)
	}
}

func TestEther(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0": "0 ETH", "1000": "1000 wei", "1000000000000": "0.000001 ETH", "250000000000000000": "0.25 ETH",
		"5000000000000000000": "5 ETH", "123456789000000000000": "123.456789 ETH",
	} {
		if got := etherString(in); got != want {
			t.Errorf("etherString(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestAmount(t *testing.T) {
	t.Parallel()
	usdc := "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
	for _, c := range []struct {
		asset assetView
		v     int64
		want  string
	}{
		{assetView{Symbol: "ETH", Decimals: 18}, 250_000_000_000_000_000, "0.25 ETH"},
		{assetView{Symbol: "USDC", Decimals: 6, Token: &usdc}, 2_500_000, "2.5 USDC"},
		{assetView{Symbol: "USDC", Decimals: 6, Token: &usdc}, 1, "0.000001 USDC"},
		{assetView{Symbol: "USDC", Decimals: 6, Token: &usdc}, 7_000_000, "7 USDC"},
		{assetView{Symbol: "PTS", Token: &usdc}, 42, "42 PTS"},
		{assetView{Token: &usdc}, 42, "42 units of 0xA0b869…eB48"},
	} {
		if got := amount(c.asset, big.NewInt(c.v)); got != c.want {
			t.Errorf("amount(%+v, %d) = %q, want %q", c.asset, c.v, got, c.want)
		}
	}
	if got := amount(assetView{}, nil); got != "–" {
		t.Errorf("amount of nil = %q", got)
	}
}
