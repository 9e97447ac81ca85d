package consolidate

import (
	"fmt"
	"strings"
)

// wrap says which step failed, unless err already reads "consolidate: …"
// (a sentinel, or an error a Chain, Store or Queue of this module built):
// that says what happened, and the prefix appears once.
func wrap(step string, err error) error {
	if strings.HasPrefix(err.Error(), "consolidate: ") {
		return err
	}
	return fmt.Errorf("consolidate: %s: %w", step, err)
}
