-- An account holds one asset for life: ether (token NULL) or the ERC-20
-- token whose contract address is token. A transaction moves its
-- account's asset and records it, so that its bumps and cancels, and the
-- evidence of its receipt, need no other row.
ALTER TABLE accounts ADD COLUMN token bytea CHECK (token IS NULL OR length(token) = 20);
ALTER TABLE transactions ADD COLUMN token bytea CHECK (token IS NULL OR length(token) = 20);
