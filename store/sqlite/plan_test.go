package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-consolidate/consolidate"
)

// TestQueryPlans keeps the hot paths off full-table scans: their cost must
// not grow with the number of transactions or events ever stored.
func TestQueryPlans(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "plan.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkQueryPlans(t, s)
}

// checkQueryPlans fails the test if a hot path's query plan on s scans a
// table or sorts.
func checkQueryPlans(t *testing.T, s *Store) {
	t.Helper()
	queries := map[string][]any{
		sqlSelectAccount:          {1},
		sqlUpdateBalance:          {[]byte{}, []byte{}, 0, 1},
		sqlSelectCredit:           {1, "ref"},
		sqlSelectIdempotency:      {1, "key"},
		sqlSelectNonce:            {[]byte{}},
		sqlTakeNonce:              {[]byte{}},
		sqlSyncNonce:              {[]byte{}, 0},
		sqlSelectTransaction:      {1},
		sqlSelectSettling:         {1},
		sqlSelectTransactions:     {1, 100, 10},
		sqlAccountExists:          {1},
		sqlSettle:                 {"SUCCESSFUL", []byte{}, []byte{}, nil, 0, nil, 0, 1},
		sqlNextSeq:                {1},
		sqlSign:                   {[]byte{}, []byte{}, 0, 1},
		sqlSelectAttemptByHash:    {[]byte{}},
		sqlSelectAttempts:         {1},
		sqlTransactionExists:      {1},
		sqlSelectTransactionsByID: {"[1,2]"},
		sqlSelectAttemptsByID:     {"[1,2]"},
		sqlSelectSchedule:         {1},
		sqlReschedule:             {1, 0, 0, 1},
		sqlPark:                   {0, 0, 1},
		sqlParked:                 {0, 0, 10},
		sqlDue:                    {0, 0, 10},
		sqlSelectEvents:           {10},
		sqlMarkSent + "(?)":       {0, 1},
	}
	for _, f := range []consolidate.Filter{
		{Status: consolidate.StatusPending, Limit: 10},
		{Status: consolidate.StatusPending, Oldest: true, Limit: 10},
		{Parked: true, Limit: 10},
		{Parked: true, Oldest: true, Limit: 10},
		{Limit: 10},
	} {
		q, args := listQuery(f)
		queries[q] = args
	}
	queries[sqlPendingSummary] = nil
	for q, args := range queries {
		rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			// Scanning a partial index reads only pending rows or unsent
			// events, and stops at the LIMIT; scanning json_each reads the
			// list of ids a batch read is given.
			partial := strings.HasSuffix(step, "INDEX events_unsent") || strings.HasSuffix(step, "INDEX transactions_due") || strings.HasSuffix(step, "INDEX transactions_parked")
			given := strings.HasPrefix(step, "SCAN json_each ")
			if strings.HasPrefix(step, "SCAN ") && !partial && !given || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("query scans or sorts:\n%s\nplan: %s", q, strings.Join(plan, "; "))
			}
		}
	}
}
