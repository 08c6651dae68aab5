package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// Dialect names the SQL database behind a store; it is also the folder
// under migrations/ that holds its schema.
type Dialect string

// The supported databases.
const (
	// SQLite is embedded: one process, one file.
	SQLite Dialect = "sqlite"
	// PostgreSQL can be shared by several replicas.
	PostgreSQL Dialect = "postgres"
)

// rebind rewrites a query's ? placeholders as PostgreSQL's $1, $2, …; the
// store's queries are written once, with ?, and every one passes through
// here. No query has a literal ? in it, so there is nothing to skip.
func (d Dialect) rebind(q string) string {
	if d != PostgreSQL || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// forUpdate is the clause that locks a row read before it is changed in
// the same transaction. SQLite needs none: its write transactions begin
// IMMEDIATE and so run one at a time. On PostgreSQL two replicas may read
// the same pending request at once; the lock makes the second wait and
// then read the first's result, so two confirms make one job.
func (d Dialect) forUpdate() string {
	if d == PostgreSQL {
		return " FOR UPDATE"
	}
	return ""
}

// greatest is the name of the two-argument maximum: SQLite's scalar MAX
// is PostgreSQL's GREATEST (PostgreSQL's MAX is only an aggregate).
func (d Dialect) greatest() string {
	if d == PostgreSQL {
		return "GREATEST"
	}
	return "MAX"
}

// dbTx is a write transaction that speaks the store's dialect: its queries
// are written with ? and rebound on the way out. The embedded *sql.Tx is
// what Enqueue callbacks (River's InsertTx) get.
type dbTx struct {
	*sql.Tx
	dialect Dialect
}

func (t dbTx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.ExecContext(ctx, t.dialect.rebind(q), args...)
}

func (t dbTx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.QueryRowContext(ctx, t.dialect.rebind(q), args...)
}

// exec runs one statement on the write pool, outside any transaction.
func (s *core) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.write.ExecContext(ctx, s.dialect.rebind(q), args...)
}

// queryRows and queryRow read from the read pool.
func (s *core) queryRows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.read.QueryContext(ctx, s.dialect.rebind(q), args...)
}

func (s *core) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.read.QueryRowContext(ctx, s.dialect.rebind(q), args...)
}
