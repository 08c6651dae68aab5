// Package storetest gives tests fresh databases of both kinds the store
// supports, so one test body checks SQLite and PostgreSQL alike.
//
// PostgreSQL tests need a server: WALEAVE_TEST_POSTGRES is the DSN of a
// role that may create databases, e.g.
// postgres://postgres:waleave@127.0.0.1:5432/postgres?sslmode=disable.
// Each test gets a database of its own, created for it and dropped when it
// ends. Without WALEAVE_TEST_POSTGRES those tests are skipped, except when
// CI is set: there a missing server is a failure, not a silent skip.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvPostgres names the variable holding the PostgreSQL server's DSN.
const EnvPostgres = "WALEAVE_TEST_POSTGRES"

// SQLite returns the DATABASE_URL of a new SQLite file in tb's temporary
// directory.
func SQLite(tb testing.TB) string {
	return "sqlite:" + filepath.Join(tb.TempDir(), "waleave.db")
}

// Postgres returns the DATABASE_URL of a new, empty PostgreSQL database,
// dropped (with any connection still open to it) when tb ends.
func Postgres(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set: CI must run the PostgreSQL tests (.ci/run starts a server)", EnvPostgres)
		}
		tb.Skipf("%s is not set", EnvPostgres)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL", EnvPostgres)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "waleave_test_" + hex.EncodeToString(b[:])

	admin := func(stmt string) {
		tb.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", base)
		if err != nil {
			tb.Fatalf("open %s: %v", EnvPostgres, err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			tb.Fatalf("%s: %v", stmt, err)
		}
	}
	admin("CREATE DATABASE " + name)
	tb.Cleanup(func() { admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })

	u.Path = "/" + name
	return u.String()
}

// Each runs fn as two subtests, "sqlite" and "postgres", each with the
// DATABASE_URL of a fresh database of that kind.
func Each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	for _, b := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", SQLite}, {"postgres", Postgres}} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.dsn(t)) })
	}
}

// Database is one kind of database a benchmark runs on: its name and a
// function that makes a fresh one.
type Database struct {
	Name string
	DSN  func(testing.TB) string
}

// Benchmarked lists the databases a benchmark compares: SQLite, and
// PostgreSQL when EnvPostgres names a server (a benchmark skips nothing:
// without a server it measures SQLite alone).
func Benchmarked() []Database {
	dbs := []Database{{"sqlite", SQLite}}
	if os.Getenv(EnvPostgres) != "" {
		dbs = append(dbs, Database{"postgres", Postgres})
	}
	return dbs
}
