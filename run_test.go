package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
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
		close(released) // before the lock goes, so the check below cannot race it
		other.Close()
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

// A stop signal while waiting for another process's SQLite database is a
// clean stop, not a failure (a rollout cancelled midway).
func TestServe_StopWhileWaitingForTheDatabaseIsClean(t *testing.T) {
	dsn := storetest.SQLite(t)
	other, err := store.Open(t.Context(), dsn)
	require.NoError(t, err)
	defer other.Close()
	env := validEnv()
	env["DATABASE_URL"], env["LISTEN_ADDR"] = dsn, "127.0.0.1:0"
	ctx, cancel := context.WithCancel(t.Context())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, &logs) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "waiting for it to stop") {
		require.True(t, time.Now().Before(deadline), "not waiting: %s", logs.String())
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
}
