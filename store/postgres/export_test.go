package postgres

import "github.com/jackc/pgx/v5"

// SetBatchSentHook has f run on the connection of every batch of s
// whose writes and COMMIT have been sent, before their results are read.
// Set it before the first Submit.
func SetBatchSentHook(s *Store, f func(*pgx.Conn)) { s.batchSent = f }
