-- A reserved transfer has its nonce and its funds held but no signature
-- yet: hash and raw are NULL until its first attempt signs it. A hash
-- that is set stays UNIQUE and 32 bytes long (a NULL passes both), and
-- the two are set together.
--
-- SQLite (3.54, as bundled by the modernc.org/sqlite version go.mod
-- requires) drops a NOT NULL constraint and adds a CHECK constraint in
-- place, without rebuilding the table: the rows, their ids, the
-- AUTOINCREMENT sequence, the indexes and the foreign keys that point at
-- transactions are left as they are. Adding the CHECK reads every row
-- once; no row stored before this migration has a NULL hash or raw.
ALTER TABLE transactions ALTER COLUMN hash DROP NOT NULL;
ALTER TABLE transactions ALTER COLUMN raw DROP NOT NULL;
ALTER TABLE transactions ADD CONSTRAINT signed CHECK ((hash IS NULL) = (raw IS NULL));
