package xarchrecipe

import (
	"os"
	"runtime"
	"testing"
)

func TestChecksum(t *testing.T) {
	if got := Checksum([]byte("123456789")); got != 0xcbf43926 {
		t.Fatalf("Checksum = %#x, want 0xcbf43926", got)
	}
}

func TestWhereItRuns(t *testing.T) {
	t.Logf("GOARCH=%s XARCH_TARGET=%s XARCH_FIDELITY=%s",
		runtime.GOARCH, os.Getenv("XARCH_TARGET"), os.Getenv("XARCH_FIDELITY"))
}

// TestFailsOnRequest shows that a failure inside the emulated test binary reaches `go test`.
func TestFailsOnRequest(t *testing.T) {
	if os.Getenv("RECIPE_SHOULD_FAIL") == "1" {
		t.Fatal("failing as requested by RECIPE_SHOULD_FAIL=1")
	}
}
