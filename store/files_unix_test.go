//go:build unix

package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
)

// The SQLite database, its -wal and -shm files and its lock file are the
// owner's alone, whatever the umask: they hold members' numbers and invite
// links, and whoever could open the lock file could hold it. An older
// database left readable by all is made private when opened.
func TestSQLiteFiles_OwnerOnly(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "waleave.db")
	db := mustOpen(t, "sqlite:"+path)
	r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "120363406289005073@g.us", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	require.NoError(t, db.Requests().CreateRequest(context.Background(), r, nil))
	for _, name := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		fi, err := os.Stat(name)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
	require.NoError(t, db.Close())

	for _, name := range []string{path, path + ".lock"} {
		require.NoError(t, os.Chmod(name, 0o644))
	}
	mustOpen(t, "sqlite:"+path)
	for _, name := range []string{path, path + ".lock"} {
		fi, err := os.Stat(name)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "reopened: %s", name)
	}
}

// What a request clears when it ends (its response_url, the members it
// offered as successor) leaves the files soon after, not only the row:
// secure_delete zeroes the old bytes in the database, and a checkpoint
// empties the -wal file that still held the old pages.
func TestSQLiteFiles_ClearedValuesLeaveTheFiles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "waleave.db")
	db := mustOpen(t, "sqlite:"+path)
	const hook, offered, chosen = "https://hooks.slack.com/commands/T1/1/RESPONSEURLSECRET4711", "79001112233", "79004445566"
	r := &store.Request{ChannelID: "C1", RequesterID: "U1", GroupJID: "120363406289005073@g.us", ResponseURL: hook,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	require.NoError(t, db.Requests().CreateRequest(ctx, r, nil))
	ok, err := db.Requests().SetDetails(ctx, r.ID, store.Details{State: store.DetailsOK, OnlyAdmin: true, IsAdmin: true, Successors: []string{offered + "@c.us", chosen + "@c.us"}}, t0)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = db.Requests().SetSuccessor(ctx, r.ID, chosen+"@c.us", "U1", t0)
	require.NoError(t, err)

	files := func() []byte {
		var all []byte
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			b, err := os.ReadFile(name)
			if err == nil {
				all = append(all, b...)
			}
		}
		return all
	}
	require.True(t, bytes.Contains(files(), []byte("RESPONSEURLSECRET4711")), "the test looks in the right files")

	_, err = db.Requests().Cancel(ctx, r.ID, "U1", t0)
	require.NoError(t, err)
	// The scrubber checkpoints in the background, within a second or so.
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := files()
		if !bytes.Contains(all, []byte("RESPONSEURLSECRET4711")) && !bytes.Contains(all, []byte(offered)) {
			break
		}
		require.True(t, time.Now().Before(deadline), "cleared values still in the files 10 s after the request ended")
		time.Sleep(20 * time.Millisecond)
	}
	require.True(t, bytes.Contains(files(), []byte(chosen)), "the chosen successor stays")
}
