package greet

import (
	"os"
	"testing"
)

func TestAdd(t *testing.T) {
	if Add(2, 3) != 5 {
		t.Fatal("2 + 3 != 5")
	}
}

func TestRunsOnTheTarget(t *testing.T) {
	if os.Getenv("XARCH_TARGET") == "" || Machine() != "aarch64" {
		t.Fatalf("machine %s, XARCH_TARGET %q", Machine(), os.Getenv("XARCH_TARGET"))
	}
}
