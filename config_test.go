package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func validEnv() map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "WA_PROVIDER": "greenapi",
		"WA_INSTANCE": "1101", "WA_TOKEN": "tok",
	}
}

func TestLoadConfig_Defaults(t *testing.T) {
	c, err := loadConfig(envOf(validEnv()))
	require.NoError(t, err)
	require.Equal(t, "https://slack.com/api/", c.SlackAPIURL)
	require.Equal(t, "https://api.green-api.com", c.WAAPIURL)
	require.Equal(t, 24*time.Hour, c.RequestTTL)
	require.Equal(t, time.Hour, c.RemindAfter)
	require.Equal(t, 5, c.MaxAttempts)
	require.Equal(t, "0 9 * * 1-5", c.DigestCron)
	require.Equal(t, "UTC", c.location.String())
	require.Equal(t, 6*time.Hour, c.DirectoryEvery)
	require.Equal(t, "sqlite:waleave.db", c.DatabaseURL)
	require.Equal(t, ":3000", c.ListenAddr)
	require.False(t, c.TwoPerson)
	require.NotNil(t, c.schedule)
}

func TestLoadConfig_Lists(t *testing.T) {
	env := validEnv()
	env["WALEAVE_ALLOWED_USERS"] = "U1, U2,,"
	env["WALEAVE_ALLOWED_CHANNELS"] = "C1"
	env["WALEAVE_TWO_PERSON"] = "true"
	env["WA_PROVIDER"] = "ryzeapi"
	c, err := loadConfig(envOf(env))
	require.NoError(t, err)
	require.Equal(t, []string{"U1", "U2"}, c.AllowedUsers)
	require.Equal(t, []string{"C1"}, c.AllowedChannels)
	require.True(t, c.TwoPerson)
	require.Equal(t, "https://ryzeapi.cloud", c.WAAPIURL)
}

func TestLoadConfig_NamesEveryBadVariableAtOnce(t *testing.T) {
	env := map[string]string{
		"WA_PROVIDER":          "telegram",
		"WALEAVE_REQUEST_TTL":  "forever",
		"WALEAVE_MAX_ATTEMPTS": "lots",
		"WALEAVE_DIGEST_CRON":  "every day",
		"WALEAVE_TIMEZONE":     "Mars/Olympus",
		"SLACK_API_URL":        "https://slack.com/api",
		"LOG_LEVEL":            "loud",
		"WA_TOKEN":             "super-secret-token",
	}
	_, err := loadConfig(envOf(env))
	require.Error(t, err)
	msg := err.Error()
	for _, name := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "WA_PROVIDER", "WA_INSTANCE",
		"WALEAVE_REQUEST_TTL", "WALEAVE_MAX_ATTEMPTS", "WALEAVE_DIGEST_CRON", "WALEAVE_TIMEZONE", "SLACK_API_URL", "LOG_LEVEL"} {
		require.Contains(t, msg, name)
	}
	require.NotContains(t, msg, "super-secret-token")
	require.NotContains(t, msg, "WA_TOKEN", "a valid variable is not named")
}

func TestLoadConfig_SocketModeNeedsNoSigningSecret(t *testing.T) {
	env := validEnv()
	delete(env, "SLACK_SIGNING_SECRET")
	_, err := loadConfig(envOf(env))
	require.ErrorContains(t, err, "SLACK_SIGNING_SECRET")
	env["SLACK_APP_TOKEN"] = "xapp-1"
	_, err = loadConfig(envOf(env))
	require.NoError(t, err)
}

func TestRun_HelpListsVariables(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(t.Context(), []string{"help"}, envOf(nil), &out, &out))
	for _, name := range []string{"SLACK_BOT_TOKEN", "WA_PROVIDER", "WALEAVE_ALLOWED_USERS", "DATABASE_URL"} {
		require.Contains(t, out.String(), name)
	}
	require.Error(t, run(t.Context(), []string{"frobnicate"}, envOf(nil), &out, &out))
}

func TestLoadConfig_DatabaseURL(t *testing.T) {
	for dsn, ok := range map[string]bool{
		"sqlite:/var/lib/waleave/w.db":                              true,
		"postgres://waleave:pw@db:5432/waleave?sslmode=require":     true,
		"postgresql://waleave@db/waleave":                           true,
		"postgres:///waleave?host=/var/run/postgresql&user=waleave": true,
		"sqlite:":                         false,
		"sqlite:waleave.db":               true,
		"sqlite::memory:":                 false,
		"sqlite:file:w.db":                false,
		"sqlite:w.db?_pragma=foo":         false,
		"postgres://waleave:pw@db:5432/":  false,
		"mysql://waleave:pw@db/waleave":   false,
		"waleave.db":                      false,
		"postgres://waleave:pw@db:5432/w": true,
	} {
		env := validEnv()
		env["DATABASE_URL"] = dsn
		_, err := loadConfig(envOf(env))
		if ok {
			require.NoError(t, err, dsn)
			continue
		}
		require.ErrorContains(t, err, "DATABASE_URL", dsn)
		require.NotContains(t, err.Error(), "pw@", "the password is not quoted")
	}
}

func TestRedactedDSN_HidesPasswords(t *testing.T) {
	for dsn, want := range map[string]string{
		"sqlite:w.db": "sqlite:w.db",
		"postgres://waleave:s3cret@db:5432/waleave?sslmode=require": "postgres://waleave@db:5432/waleave?sslmode=require",
		"postgres://db/waleave?user=waleave&password=s3cret":        "postgres://db/waleave?password=REDACTED&user=waleave",
		"postgres://db/waleave?sslkey=k.pem&sslpassword=s3cret":     "postgres://db/waleave?sslkey=k.pem&sslpassword=REDACTED",
		"postgres://waleave:s3cret@db:bad/waleave":                  "(unreadable DATABASE_URL)",
	} {
		require.Equal(t, want, config{DatabaseURL: dsn}.redactedDSN(), dsn)
	}
}

func TestLoadConfig_GatewayTimeout(t *testing.T) {
	env := validEnv()
	c, err := loadConfig(envOf(env))
	require.NoError(t, err)
	require.Equal(t, 8*time.Second, c.GatewayTimeout, "default")
	for _, v := range []string{"500ms", "16s", "soon"} {
		env["WALEAVE_GATEWAY_TIMEOUT"] = v
		_, err := loadConfig(envOf(env))
		require.ErrorContains(t, err, "WALEAVE_GATEWAY_TIMEOUT", v)
	}
}

// The request limits default to SPEC's 30 a minute and 50 pending; 0
// turns each off.
func TestLoadConfig_RequestLimits(t *testing.T) {
	env := validEnv()
	c, err := loadConfig(envOf(env))
	require.NoError(t, err)
	require.Equal(t, 30, c.UserRate)
	require.Equal(t, 50, c.MaxPending)
	env["WALEAVE_USER_RATE"], env["WALEAVE_MAX_PENDING"] = "0", "0"
	c, err = loadConfig(envOf(env))
	require.NoError(t, err)
	require.Zero(t, c.UserRate)
	require.Zero(t, c.MaxPending)
}

// The gateway's own rules and the listen address are checked with the
// rest, so one start names every bad variable.
func TestLoadConfig_GatewayRulesAndListenAddrInTheSameMessage(t *testing.T) {
	env := validEnv()
	env["WA_PROVIDER"] = "greenapi"
	env["WA_INSTANCE"] = "my-instance"
	env["WA_API_URL"] = "https://api.green-api.com/?x=1"
	env["WA_TOKEN"] = "secret token"
	env["LISTEN_ADDR"] = "nonsense"
	env["LOG_LEVEL"] = "loud"
	_, err := loadConfig(envOf(env))
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{"WA_INSTANCE must be a number", "WA_API_URL", "must not have a query", "WA_TOKEN contains spaces", "LISTEN_ADDR", "LOG_LEVEL"} {
		require.Contains(t, msg, want)
	}
	require.NotContains(t, msg, "secret token")

	env = validEnv()
	env["WA_API_URL"] = "/"
	_, err = loadConfig(envOf(env))
	require.ErrorContains(t, err, "WA_API_URL", "a bare slash is not the provider's default")

	for addr, ok := range map[string]bool{":3000": true, "127.0.0.1:0": true, "[::1]:8080": true, ":http": true, "3000": false, ":no-such-service": false, ":70000": false} {
		env := validEnv()
		env["LISTEN_ADDR"] = addr
		_, err := loadConfig(envOf(env))
		if ok {
			require.NoError(t, err, addr)
		} else {
			require.ErrorContains(t, err, "LISTEN_ADDR", addr)
		}
	}
}

// Each rule on a value, at and beyond its bounds: a bad value is the one
// problem reported and names its variable; a value at a bound is taken.
func TestLoadConfig_ValueRules(t *testing.T) {
	cases := []struct {
		key, value string
		ok         bool
	}{
		{"WALEAVE_ALLOWED_USERS", "U0ABC123,W0ABC123", true},
		{"WALEAVE_ALLOWED_USERS", "U0ABC123,bob", false},
		{"WALEAVE_ALLOWED_USERS", "u0abc123", false},
		{"WALEAVE_ALLOWED_USERS", "U0abc123", false},
		{"WALEAVE_APPROVERS", "C0ABC123", false},
		{"WALEAVE_ALLOWED_CHANNELS", "C0ABC123,G0ABC123,D0ABC123", true},
		{"WALEAVE_ALLOWED_CHANNELS", "U0ABC123", false},
		{"WALEAVE_OPS_CHANNEL", "C0ABC123", true},
		{"WALEAVE_OPS_CHANNEL", "U0ABC123", false},
		{"WALEAVE_OPS_CHANNEL", "#ops", false},
		{"WALEAVE_REQUEST_TTL", "1s", true},
		{"WALEAVE_REQUEST_TTL", "0s", false},
		{"WALEAVE_REMIND_AFTER", "1s", true},
		{"WALEAVE_REMIND_AFTER", "0s", false},
		{"WALEAVE_REMIND_AFTER", "-1m", false},
		{"WALEAVE_MAX_ATTEMPTS", "1", true},
		{"WALEAVE_MAX_ATTEMPTS", "20", true},
		{"WALEAVE_MAX_ATTEMPTS", "0", false},
		{"WALEAVE_MAX_ATTEMPTS", "21", false},
		{"WALEAVE_DIRECTORY_REFRESH", "1m", true},
		{"WALEAVE_DIRECTORY_REFRESH", "59s", false},
		{"WALEAVE_GATEWAY_TIMEOUT", "1s", true},
		{"WALEAVE_GATEWAY_TIMEOUT", "15s", true},
		{"WALEAVE_GATEWAY_TIMEOUT", "999ms", false},
		{"WALEAVE_GATEWAY_TIMEOUT", "16s", false},
		{"WALEAVE_USER_RATE", "0", true},
		{"WALEAVE_USER_RATE", "1", true},
		{"WALEAVE_USER_RATE", "-1", false},
		{"WALEAVE_USER_RATE", "lots", false},
		{"WALEAVE_MAX_PENDING", "0", true},
		{"WALEAVE_MAX_PENDING", "500", true},
		{"WALEAVE_MAX_PENDING", "-5", false},
		{"WALEAVE_BULK_MAX", "1", true},
		{"WALEAVE_BULK_MAX", "0", false},
		{"LOG_FORMAT", "json", true},
		{"LOG_FORMAT", "xml", false},
		{"LISTEN_ADDR", ":http", true},
		{"LISTEN_ADDR", "3000", false},
	}
	for _, c := range cases {
		env := validEnv()
		env[c.key] = c.value
		_, err := loadConfig(envOf(env))
		if c.ok {
			require.NoError(t, err, "%s=%s", c.key, c.value)
			continue
		}
		require.Error(t, err, "%s=%s", c.key, c.value)
		require.Equal(t, 1, strings.Count(err.Error(), "\n  "), "one problem: %v", err)
		require.Contains(t, err.Error(), "\n  "+c.key, "%s=%s", c.key, c.value)
	}
}

// Every Slack call carries the bot token: the Web API URL must be https,
// except to this machine (a local Slack double). A plain http:// gateway
// is allowed, and named as a risk unless it is on this machine.
func TestLoadConfig_PlainHTTP(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://slack.com/api/": true, "http://127.0.0.1:8080/api/": true, "http://[::1]:1/api/": true, "http://localhost/api/": true,
		"http://slack.com/api/": false, "http://10.0.0.5/api/": false, "ftp://slack.com/api/": false,
	} {
		env := validEnv()
		env["SLACK_API_URL"] = raw
		_, err := loadConfig(envOf(env))
		if ok {
			require.NoError(t, err, raw)
		} else {
			require.ErrorContains(t, err, "SLACK_API_URL must be https://", raw)
		}
	}
	for raw, risky := range map[string]bool{
		"https://api.green-api.com": false, "http://127.0.0.1:9000": false, "http://localhost:9000": false,
		"http://gateway.internal:9000": true, "http://10.0.0.5": true,
	} {
		env := validEnv()
		env["WA_API_URL"] = raw
		c, err := loadConfig(envOf(env))
		require.NoError(t, err, raw)
		if risky {
			require.Len(t, c.risks(), 1, raw)
			require.Contains(t, c.risks()[0], "WA_API_URL is plain http://", raw)
		} else {
			require.Empty(t, c.risks(), raw)
		}
	}
}

func TestLoadConfig_Retention(t *testing.T) {
	env := validEnv()
	c, err := loadConfig(envOf(env))
	require.NoError(t, err)
	require.Equal(t, 365*24*time.Hour, c.Retention, "default 365d")
	for v, want := range map[string]time.Duration{"0": 0, "30d": 30 * 24 * time.Hour, "1d12h": 36 * time.Hour} {
		env["WALEAVE_RETENTION"] = v
		c, err := loadConfig(envOf(env))
		require.NoError(t, err, v)
		require.Equal(t, want, c.Retention, v)
	}
	for _, v := range []string{"365", "12h", "-1d", "forever"} {
		env["WALEAVE_RETENTION"] = v
		_, err := loadConfig(envOf(env))
		require.ErrorContains(t, err, "WALEAVE_RETENTION", v)
	}
}
