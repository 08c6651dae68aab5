package main

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/store/storetest"
)

const (
	// bothGroup is a group both numbers are in; supportGroup one only
	// the second number is in.
	bothGroup    = "120363400000000001@g.us"
	supportGroup = "120363400000000002@g.us"
	// testWAToken2 is the second number's gateway token.
	testWAToken2 = "gwtoken-SECRET-0043"
)

// numbersEnv configures two numbers, sales on gw1 and support on gw2,
// instead of the single number baseEnvOn sets.
func numbersEnv(t *testing.T, sl *fake.Slack, gw1, gw2 *fake.Provider, dsn string) map[string]string {
	env := baseEnvOn(t, sl, gw1, dsn)
	for _, k := range []string{"WA_PROVIDER", "WA_API_URL", "WA_INSTANCE", "WA_TOKEN"} {
		delete(env, k)
	}
	for k, v := range map[string]string{
		"WA_INSTANCES":      "sales,support",
		"WA_SALES_PROVIDER": gw1.Name(), "WA_SALES_API_URL": gw1.URL, "WA_SALES_INSTANCE": "1101000001", "WA_SALES_TOKEN": testWAToken,
		"WA_SUPPORT_PROVIDER": gw2.Name(), "WA_SUPPORT_API_URL": gw2.URL, "WA_SUPPORT_INSTANCE": "support-line", "WA_SUPPORT_TOKEN": testWAToken2,
	} {
		env[k] = v
	}
	return env
}

// openSQL opens the test database directly, to read what the store keeps.
func openSQL(t *testing.T, dsn string) *sql.DB {
	driver, source := "sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")
	if !strings.HasPrefix(dsn, "sqlite:") {
		driver, source = "pgx", dsn
	}
	db, err := sql.Open(driver, source)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// queryStrings returns the first column of q's rows, as text.
func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	rows, err := db.Query(q, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestE2E_TwoNumbers runs one bot with two numbers at two providers:
// the number in a group leaves it without --from; a group both are in
// gets a question, which --from settles; cards and replies name the
// number; and one number's work never reaches the other's gateway or
// its shared rate limits.
func TestE2E_TwoNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		sl := fake.NewSlack(t)
		sales, support := fake.NewProvider(t, "greenapi"), fake.NewProvider(t, "ryzeapi")
		sales.Groups = map[string]string{bothGroup: "Both teams"}
		support.Groups = map[string]string{bothGroup: "Both teams", supportGroup: "Support only"}
		a := startApp(t, sl, sales, numbersEnv(t, sl, sales, support, dsn))
		db := openSQL(t, dsn)

		// The directory is listed at start, each number from its own gateway.
		eventually(t, 10*time.Second, func() bool {
			return len(queryStrings(t, db, `SELECT number || ' ' || jid FROM directory`)) == 3
		}, "directories not listed")
		require.ElementsMatch(t, []string{"sales " + bothGroup, "support " + bothGroup, "support " + supportGroup},
			queryStrings(t, db, `SELECT number || ' ' || jid FROM directory`))

		// What the first number has used of its limits before the second
		// works (on PostgreSQL the limits are rows shared by replicas).
		salesLimits := func() []string {
			return queryStrings(t, db, `SELECT key || ' ' || CAST(tokens AS TEXT) || ' ' || CAST(at AS TEXT) FROM rate_buckets WHERE key LIKE 'sales/%' ORDER BY key`)
		}
		salesBefore, salesCalls := salesLimits(), len(sales.Calls(""))

		// Only support is in the group: it leaves, without --from.
		id, ts := a.requestCard("U0REQ1", "C1", supportGroup+" Bye from support")
		card := sl.Cards()[len(sl.Cards())-1]
		blocks := unescapeJSON(card.Form.Get("blocks"))
		require.Contains(t, blocks, "WhatsApp number")
		require.Contains(t, blocks, "support")
		require.Contains(t, card.Form.Get("text"), "(WhatsApp number support)")
		status, _ := a.click("U0CNF2", "C1", "leave_confirm", id, ts)
		require.Equal(t, 200, status)
		eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 1 }, "no outcome reply")
		reply := sl.ThreadReplies()[0].Form.Get("text")
		require.Contains(t, reply, "WhatsApp number: support")
		require.Len(t, support.Calls("leave"), 1)
		require.Contains(t, support.Calls("send")[0].Body, "Bye from support")

		// Both are in the group: the bot asks, naming them, and records nothing.
		status, body := a.command("U0REQ1", "C1", bothGroup)
		require.Equal(t, 200, status)
		require.Contains(t, body, "--from sales")
		require.Contains(t, body, "--from support")
		require.Empty(t, requestIDPattern.FindString(body), "nothing is recorded: %s", body)

		// None of the second number's work reached the first number.
		require.Equal(t, salesCalls, len(sales.Calls("")), "the first number's gateway was called for the second's work")
		require.Equal(t, salesBefore, salesLimits(), "the first number's rate limits changed")
		if !strings.HasPrefix(dsn, "sqlite:") {
			require.NotEmpty(t, queryStrings(t, db, `SELECT key FROM rate_buckets WHERE key LIKE 'support/ryzeapi/support-line/%'`),
				"the second number's limits are its own rows")
		}

		// A group no number is in: said so, with how to go on; an
		// unknown --from is named.
		_, body = a.command("U0REQ1", "C1", "120363400000000009@g.us")
		require.Contains(t, body, "None of this bot's WhatsApp numbers (sales, support) is in that group")
		require.Empty(t, requestIDPattern.FindString(body))
		_, body = a.command("U0REQ1", "C1", bothGroup+" --from marketing")
		require.Contains(t, body, `No WhatsApp number is called \"marketing\"`)

		// --from settles it.
		id, ts = a.requestCard("U0REQ1", "C1", bothGroup+" --from sales Bye from sales")
		card = sl.Cards()[len(sl.Cards())-1]
		require.Contains(t, unescapeJSON(card.Form.Get("blocks")), "sales")
		status, _ = a.click("U0CNF2", "C1", "leave_confirm", id, ts)
		require.Equal(t, 200, status)
		eventually(t, 10*time.Second, func() bool { return len(sl.ThreadReplies()) == 2 }, "no second outcome reply")
		require.Contains(t, sl.ThreadReplies()[1].Form.Get("text"), "WhatsApp number: sales")
		require.Len(t, sales.Calls("leave"), 1)
		require.Len(t, support.Calls("leave"), 1, "the second number did not leave the group the first was asked to")

		require.ElementsMatch(t, []string{"support", "sales"}, queryStrings(t, db, `SELECT number FROM requests`))
		assertNoSecretsInSlack(t, sl)
		require.NotContains(t, a.logs.String(), testWAToken2)
	})
}
