package consolidate_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/go-consolidate/consolidate"
)

// TestReadmeConfigTable checks that the README's Config table names every
// field of Config.
func TestReadmeConfigTable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	if i := strings.Index(section, "## Configuration"); i >= 0 {
		section = section[i:]
	}
	if i := strings.Index(section[1:], "\n## "); i >= 0 {
		section = section[:i+1]
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range regexp.MustCompile("`([A-Za-z]+)`").FindAllStringSubmatch(first, -1) {
			listed[m[1]] = true
		}
	}
	typ := reflect.TypeFor[consolidate.Config]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() && !listed[f.Name] {
			t.Errorf("the README's Config table does not list %s", f.Name)
		}
	}
	for name := range listed {
		if _, ok := typ.FieldByName(name); !ok {
			t.Errorf("the README's Config table lists %s, which Config does not have", name)
		}
	}
}
