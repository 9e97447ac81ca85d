package main

// mutants are the planted bugs, each one a way to lose money or show a
// wrong balance, with the smallest set of tests known to catch it. The
// snippets are exact, tabs included.
var mutants = []mutant{
	{
		name: "token-success-on-status-alone",
		desc: "a token transfer whose receipt has status 1 is SUCCESSFUL without its Transfer event, so a token that returns false keeps the account's money",
		edits: []edit{
			{"\tif tx.Token == (common.Address{}) {\n\t\treturn true\n\t}\n\tfor _, e := range st.Transfers {", "\tif true {\n\t\treturn true\n\t}\n\tfor _, e := range st.Transfers {"},
		},
		pkgs: []string{"."},
		run:  "^TestTokenReturningFalseFails$",
	},
	{
		name: "token-amount-unchecked",
		desc: "any Transfer event from the wallet to the recipient counts as delivery, so a token that keeps a fee on transfer is SUCCESSFUL",
		edits: []edit{
			{"e.Amount != nil && e.Amount.Cmp(tx.Amount) == 0", "e.Amount != nil"},
		},
		pkgs: []string{"."},
		run:  "^TestTokenTakingAFeeFails$",
	},
	{
		name: "token-hold-forgotten",
		desc: "a token transfer given to a wallet is not counted against its balance until mined, so Submit overcommits the wallet's tokens",
		edits: []edit{
			{"\tb.holds[h] = true\n\treturn h, nil", "\treturn h, nil"},
		},
		pkgs: []string{"."},
		run:  "^TestTokenTransferBeyondTheWalletsIsRefused$",
	},
	{
		name: "wrong-asset-accepted",
		desc: "the SQLite store spends from an account in an asset it does not hold",
		in:   "store/sqlite",
		edits: []edit{
			{"\t\tif a.Token != p.Token {\n\t\t\treturn fmt.Errorf(\"%w: account %d\", consolidate.ErrWrongAsset, p.AccountID)", "\t\tif false {\n\t\t\treturn fmt.Errorf(\"%w: account %d\", consolidate.ErrWrongAsset, p.AccountID)"},
		},
		pkgs: []string{"./store/sqlite"},
		run:  "^TestConformance$/^SubmitWrongAsset$",
	},
	{
		name: "remote-signature-unchecked",
		desc: "what a signer that is not a local key returns is stored and sent without comparing it with the request",
		in:   "chain",
		edits: []edit{
			{"\t\tif err == nil {\n\t\t\terr = CheckSigned(intent, signed, c.chainID, c.sender)\n\t\t}\n", "\t\t_ = CheckSigned\n"},
		},
		pkgs: []string{"./chain"},
		run:  "^TestServiceSignerLies$",
	},
	{
		name: "reservation-never-signed",
		desc: "a reconcile leaves a transfer whose Submit did not get its signature reserved for good",
		edits: []edit{
			{"\tif reserved(tx) {\n\t\ts.signAndRead(ctx, c)", "\tif false {\n\t\ts.signAndRead(ctx, c)"},
			{"\t\tcase reserved(c.tx):\n", "\t\tcase false:\n"},
		},
		pkgs: []string{".", "./chain"},
		run:  "^(TestServiceSignerOutage|TestBatchSignsReservations)$",
	},
	{
		name: "stuck-wallet-kept-in-rotation",
		desc: "a wallet whose lowest open nonce never becomes final keeps getting new transfers",
		edits: []edit{
			{"\tw.stuck = stuck\n", "\tw.stuck = false\n"},
		},
		pkgs: []string{"."},
		run:  "^TestStuckWalletLeavesRotation$",
	},
	{
		name: "settle-without-pending-guard",
		desc: "Settle applies an outcome to a transaction that is already final",
		in:   "store/sqlite",
		edits: []edit{
			{"\t\tif p.t.Status != consolidate.StatusPending {\n", "\t\tif false {\n"},
			{"next_check_at = NULL, updated_at = ?\n\t\tWHERE id = ? AND status = 'PENDING'`", "next_check_at = NULL, updated_at = ?\n\t\tWHERE id = ?`"},
		},
		pkgs: []string{"./store/sqlite"},
		run:  "^TestConformance$/^SettleTwice$",
	},
	{
		name: "void-on-first-sighting",
		desc: "a nonce seen consumed by another transaction voids the transfer at once, VoidDelay ignored",
		edits: []edit{
			{"first, seen := s.suspects[id]", "first, seen := time.Time{}, true"},
		},
		pkgs: []string{"."},
		run:  "^TestLaggingNodeDoesNotVoidALandedTransfer$",
	},
	{
		name: "revert-refunds-fee",
		desc: "a reverted transfer gives back amount + fee instead of the amount only",
		in:   "store/sqlite",
		edits: []edit{
			{"\t\treturn balances{\n\t\t\tavailable: new(big.Int).Add(p.available, amount),\n\t\t\tcurrent:   new(big.Int).Sub(p.current, fee),\n\t\t}\n",
				"\t\treturn balances{available: new(big.Int).Add(p.available, hold), current: p.current}\n"},
		},
		pkgs: []string{"./store/sqlite"},
		run:  "^TestConformance$/^SettleOutcomes$",
	},
	{
		name: "funds-check-without-fee",
		desc: "Submit checks available >= amount, leaving the fee out",
		in:   "store/sqlite",
		edits: []edit{
			{"if a.Available.Cmp(hold) < 0 {", "if a.Available.Cmp(p.Amount) < 0 {"},
		},
		pkgs: []string{"./store/sqlite"},
		run:  "^TestConformance$/^SubmitInsufficientFunds$",
	},
	{
		name: "nil-means-all",
		desc: "undecided reads a nil set of checks as every check of the pass",
		edits: []edit{
			{"func undecided(cs []check, idx []int) []int {\n\tvar out []int\n",
				"func undecided(cs []check, idx []int) []int {\n\tif idx == nil {\n\t\tidx = allChecks(cs)\n\t}\n\tvar out []int\n"},
		},
		pkgs: []string{"."},
		run:  "^TestFailedEvidenceReadVoidsNothingElse$",
	},
	{
		name: "memory-cache-fill-unversioned",
		desc: "MemoryCache.Fill overwrites an entry of a newer version",
		edits: []edit{
			{"\tif old, ok := c.entries[key]; ok && now.Before(old.expires) && old.Version >= e.Version {\n\t\treturn false, nil\n\t}\n", ""},
		},
		pkgs: []string{"."},
		run:  "^TestMemoryCache$",
	},
	{
		name: "redis-cache-fill-unversioned",
		desc: "the Redis cache's fill script writes whatever the stored version",
		edits: []edit{
			{"if cur and not less(cur, ARGV[1]) then\n\treturn 0\nend\n", ""},
		},
		pkgs: []string{"./redis"},
		run:  "^TestMiniredis$/^Cache$",
	},
	{
		name: "lock-kept-on-error",
		desc: "Submit releases the account lock only when the store succeeds",
		edits: []edit{
			{"\tdefer unlock()\n\tnow := time.Now()\n\tp := SubmitParams{", "\tnow := time.Now()\n\tp := SubmitParams{"},
			{"\tendSpan(span, err, submitOutcomeOf(created, err).failed())\n\treturn tx, created, err\n",
				"\tendSpan(span, err, submitOutcomeOf(created, err).failed())\n\tif err == nil {\n\t\tunlock()\n\t}\n\treturn tx, created, err\n"},
		},
		pkgs: []string{"."},
		run:  "^TestSubmitReleasesTheLockWhenTheStorePanics$",
	},
	{
		name: "credit-twice",
		desc: "a repeated deposit reference is credited again",
		in:   "store/sqlite",
		edits: []edit{
			{"\t\t\t// Already applied: report the account as it is now.\n\t\t\tacct, err = loadAccount(ctx, tx, accountID)\n\t\t\treturn err\n", ""},
			{"`INSERT INTO credits (", "`INSERT OR IGNORE INTO credits ("},
		},
		pkgs: []string{"./store/sqlite"},
		run:  "^TestConformance$/^Credit$",
	},
	{
		name: "nonce-not-incremented",
		desc: "Submit hands out the same nonce again",
		in:   "store/sqlite",
		edits: []edit{
			{"DO UPDATE SET next = next + 1 WHERE", "DO UPDATE SET next = next WHERE"},
			{"t.nonces[sender] = int64(nonce) + 1", "t.nonces[sender] = int64(nonce)"},
		},
		pkgs: []string{"./store/sqlite"},
		run:  "^TestConformance$/^SubmitNonces$",
	},
	{
		name: "parked-never-rechecked",
		desc: "a parked transfer keeps its hold: the re-check of parked transfers does nothing",
		edits: []edit{
			{"func (s *Service) recheckParked(ctx context.Context, due time.Time, below map[common.Address]uint64) (int, error) {\n",
				"func (s *Service) recheckParked(ctx context.Context, due time.Time, below map[common.Address]uint64) (int, error) {\n\treturn 0, nil\n"},
		},
		pkgs: []string{"."},
		run:  "^TestParkedTransferIsCheckedAgainAndSettled$",
	},
	{
		name: "settle-before-final",
		desc: "a receipt in a block that is not final yet settles the transfer",
		edits: []edit{
			{"\t\tif st.State != TxFinal {\n\t\t\tcontinue\n\t\t}\n\t\ta := attempts[i]\n",
				"\t\tif st.State != TxFinal && st.State != TxMined {\n\t\t\tcontinue\n\t\t}\n\t\ta := attempts[i]\n"},
		},
		pkgs: []string{"."},
		run:  "^TestReorgedTransferSettlesInItsNewBlock$",
	},
	{
		name: "revert-settled-as-success",
		desc: "a reverted receipt settles the transfer SUCCESSFUL",
		edits: []edit{
			{"\tif !st.Success {\n\t\treturn false\n\t}\n", ""},
		},
		pkgs: []string{"."},
		run:  "^TestRevertedTransferRefundsAmountChargesFee$",
	},
	{
		name: "stale-read-fills",
		desc: "a Get whose store read began before a commit fills the cache with what it read",
		edits: []edit{
			{"\tif st.writes.Load() != seen {\n", "\tif st.writes.Load() != seen && false {\n"},
		},
		pkgs: []string{"."},
		run:  "^TestCacheFillAfterEvictionKeepsTheSettledStatus$",
	},
}
