// Package sample is a small Go test suite with every outcome the collector must report.
package sample

import (
	"os"
	"testing"
	"time"
)

func TestPass(t *testing.T) {
	t.Log("logged by TestPass")
}

func TestFail(t *testing.T) {
	if got := 41; got != 42 {
		t.Errorf("got %d, want 42", got)
	}
}

func TestSkip(t *testing.T) {
	t.Skip("not on this target")
}

func TestTestdata(t *testing.T) {
	data, err := os.ReadFile("testdata/input.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "hello\n" {
		t.Fatalf("testdata/input.txt holds %q", data)
	}
}

func TestSub(t *testing.T) {
	t.Run("inner", func(t *testing.T) {})
}

func TestCrash(t *testing.T) {
	var nowhere *int
	*nowhere = 1
}

func TestHang(t *testing.T) {
	time.Sleep(time.Hour)
}
