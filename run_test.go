package main

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/store/storetest"
)

// TestOpenStore_WaitsForTheOtherProcess holds a SQLite database open and
// lets go of it after a while: openStore waits and then opens it, or,
// given too short a wait, gives up with store.ErrInUse.
func TestOpenStore_WaitsForTheOtherProcess(t *testing.T) {
	dsn := storetest.SQLite(t)
	other, err := store.Open(t.Context(), dsn)
	require.NoError(t, err)

	var logs bytes.Buffer
	_, err = openStore(t.Context(), slog.New(slog.NewTextHandler(&logs, nil)), dsn, 700*time.Millisecond)
	require.ErrorIs(t, err, store.ErrInUse, "gives up after its wait")
	require.Contains(t, logs.String(), "another waleave process has the SQLite database open")

	released := make(chan struct{})
	go func() {
		time.Sleep(700 * time.Millisecond)
		other.Close()
		close(released)
	}()
	db, err := openStore(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), dsn, 20*time.Second)
	require.NoError(t, err)
	defer db.Close()
	select {
	case <-released:
	default:
		t.Fatal("opened while the other still had it")
	}
}
