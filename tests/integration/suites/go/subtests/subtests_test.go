// Package subtests has table-driven and nested subtests (t.Run) with every outcome, a
// repeated subtest name (Go makes it name#01) and a parent that fails in its own body.
package subtests

import "testing"

func TestTable(t *testing.T) {
	for _, name := range []string{"one", "two words", "one"} {
		t.Run(name, func(t *testing.T) {
			if name == "two words" {
				t.Errorf("%s: bad", name)
			}
		})
	}
	t.Run("nested", func(t *testing.T) {
		t.Run("deep", func(t *testing.T) { t.Skip("skip deep") })
		t.Run("deeper", func(t *testing.T) {})
	})
}

func TestParentFails(t *testing.T) {
	t.Run("fine", func(t *testing.T) {})
	t.Error("the parent's own check")
}

func TestPlain(t *testing.T) {}
