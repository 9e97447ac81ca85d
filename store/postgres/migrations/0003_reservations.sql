-- A reserved transfer has its nonce and its funds held before it is
-- signed: its hash and raw bytes are NULL until its first attempt (see
-- attempts) is recorded. The CHECK constraints hold for NULL, and UNIQUE
-- lets any number of rows have no hash.
ALTER TABLE transactions ALTER COLUMN hash DROP NOT NULL, ALTER COLUMN raw DROP NOT NULL;
