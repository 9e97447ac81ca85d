package httpapi

import (
	"context"
	"time"

	"github.com/go-consolidate/consolidate"
)

// Throughput is read from the ledger at each request, not counted in
// memory: it survives restarts, agrees between processes, and counts
// settlements made by any worker. The price is one listing of the newest
// throughputScan transfers per request.

const (
	// throughputMinutes is the window of the chart.
	throughputMinutes = 15
	// throughputScan is how many of the newest transfers are read.
	throughputScan = 1000
)

// throughputReport counts the transfers that became final in each of the
// last throughputMinutes minutes, oldest minute first; a transfer's
// settlement time is its last update.
type throughputReport struct {
	Minutes []minuteCount `json:"minutes"`
	// LowerBound is true when the scan read throughputScan transfers: an
	// older one settled in the window is then not counted.
	LowerBound bool `json:"lower_bound"`
}

type minuteCount struct {
	Start      time.Time `json:"start"`
	Successful int       `json:"successful"`
	Failed     int       `json:"failed"`
}

func (m minuteCount) total() int { return m.Successful + m.Failed }

func (op *Operator) throughput(ctx context.Context, now time.Time) (throughputReport, error) {
	txs, err := op.svc.List(ctx, consolidate.Filter{Limit: throughputScan})
	if err != nil {
		return throughputReport{}, err
	}
	return countSettlements(txs, now, len(txs) == throughputScan), nil
}

// countSettlements buckets the final transfers of txs by the minute of
// their last update.
func countSettlements(txs []consolidate.Transaction, now time.Time, lowerBound bool) throughputReport {
	end := now.UTC().Truncate(time.Minute).Add(time.Minute)
	start := end.Add(-throughputMinutes * time.Minute)
	r := throughputReport{Minutes: make([]minuteCount, throughputMinutes), LowerBound: lowerBound}
	for i := range r.Minutes {
		r.Minutes[i].Start = start.Add(time.Duration(i) * time.Minute)
	}
	for _, tx := range txs {
		if !tx.Status.Final() || tx.UpdatedAt.Before(start) || !tx.UpdatedAt.Before(end) {
			continue
		}
		m := &r.Minutes[int(tx.UpdatedAt.Sub(start)/time.Minute)]
		if tx.Status == consolidate.StatusSuccessful {
			m.Successful++
		} else {
			m.Failed++
		}
	}
	return r
}
