package sqlite

import (
	"context"
	"strings"
)

// Writes that are finished together (see wtx.later) insert their rows with
// multi-row statements: one statement per chunk of rows rather than per
// row. Chunks come in a few fixed sizes, so that the committer prepares a
// few statements once instead of one per batch size.
var chunkSizes = []int{64, 16, 4, 1}

// chunks calls f with the bounds of consecutive chunks of n rows, largest
// chunks first.
func chunks(n int, f func(lo, hi int) error) error {
	for lo := 0; lo < n; {
		size := 1
		for _, s := range chunkSizes {
			if n-lo >= s {
				size = s
				break
			}
		}
		if err := f(lo, lo+size); err != nil {
			return err
		}
		lo += size
	}
	return nil
}

// values returns head (an INSERT ending in VALUES) followed by n copies of
// row, a parenthesized list of placeholders, and tail.
func values(head, row string, n int, tail string) string {
	var b strings.Builder
	b.Grow(len(head) + n*(len(row)+2) + len(tail) + 1)
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	if tail != "" {
		b.WriteString(" ")
		b.WriteString(tail)
	}
	return b.String()
}

// insertRows inserts n rows, a chunk per statement: head and row are as
// for values, and arg appends the values of row i.
func insertRows(ctx context.Context, tx *wtx, head, row string, n int, arg func(args []any, i int) []any) error {
	return chunks(n, func(lo, hi int) error {
		var args []any
		for i := lo; i < hi; i++ {
			args = arg(args, i)
		}
		_, err := tx.ExecContext(ctx, values(head, row, hi-lo, ""), args...)
		return err
	})
}
