package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/waleave/waleave/store"
)

func TestZZSeedFile(t *testing.T) {
	p := os.Getenv("ZZ_SEED")
	if p == "" {
		t.Skip()
	}
	db, err := store.Open(context.Background(), "sqlite:"+p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SeedHistory(context.Background(), 100000, time.Now()); err != nil {
		t.Fatal(err)
	}
}
