package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// waleave check with two numbers, one whose gateway refuses its token:
// both get a line, the bad one names its own variables, and the check
// fails.
func TestCheck_EachNumber(t *testing.T) {
	sl := newCheckSlack(t, map[string]string{"auth.test": `{"ok":true,"team":"Test","user":"waleave"}`})
	good := newCheckGateway(t, 200, `{"stateInstance":"authorized"}`)
	bad := newCheckGateway(t, 401, `{"message":"unauthorized"}`)
	env := map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_SIGNING_SECRET": testSecret, "SLACK_API_URL": sl.URL + "/api/",
		"WA_INSTANCES":      "sales,support",
		"WA_SALES_PROVIDER": "greenapi", "WA_SALES_API_URL": good.URL, "WA_SALES_INSTANCE": "1101000001", "WA_SALES_TOKEN": testWAToken,
		"WA_SUPPORT_PROVIDER": "greenapi", "WA_SUPPORT_API_URL": bad.URL, "WA_SUPPORT_INSTANCE": "1101000002", "WA_SUPPORT_TOKEN": testWAToken2,
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "waleave.db"),
	}
	var out bytes.Buffer
	err := run(t.Context(), []string{"check"}, func(k string) string { return env[k] }, &out, &out)
	require.EqualError(t, err, "1 check(s) failed", out.String())
	got := out.String()
	require.Contains(t, got, "ok   WhatsApp number sales (greenapi)\n")
	require.Contains(t, got, "FAIL WhatsApp number support (greenapi): ")
	require.Contains(t, got, "WA_SUPPORT_TOKEN", "the failed number's own variables are named")
	require.Equal(t, 1, strings.Count(got, "WhatsApp number support"), "one line per number")
	for _, secret := range []string{testWAToken, testWAToken2} {
		require.NotContains(t, got, secret)
	}
}

// Every bad variable of every number is named at start, once; the
// single number's variables are refused beside WA_INSTANCES.
func TestLoadConfig_Numbers(t *testing.T) {
	env := map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_SIGNING_SECRET": testSecret,
		"WA_INSTANCES":      "sales,Bad-Name,support,sales,ops",
		"WA_TOKEN":          "leftover",
		"WA_SALES_PROVIDER": "greenapi", "WA_SALES_INSTANCE": "not-a-number", "WA_SALES_TOKEN": "t",
		"WA_SUPPORT_PROVIDER": "carrierpigeon", "WA_SUPPORT_INSTANCE": "x", "WA_SUPPORT_TOKEN": "t",
		"WA_SUPPORT_ALLOWED_USERS": "U0REQ1,nobody",
		"WA_OPS_PROVIDER":          "ryzeapi",
	}
	_, err := loadConfig(func(k string) string { return env[k] })
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"WA_TOKEN is not used when WA_INSTANCES is set",
		`WA_INSTANCES: "Bad-Name" is not a number's name`,
		"WA_SALES_INSTANCE must be a number",
		"WA_SUPPORT_PROVIDER must be one of",
		`WA_SUPPORT_ALLOWED_USERS: "nobody" is not a Slack ID`,
		"WA_OPS_INSTANCE is required",
		"WA_OPS_TOKEN is required",
	} {
		require.Equal(t, 1, strings.Count(msg, want), "%q once in:\n%s", want, msg)
	}
	require.NotContains(t, msg, "WA_PROVIDER is required", "the single number's variables are not required")
	require.NotContains(t, msg, "leftover")

	env = map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_SIGNING_SECRET": testSecret,
		"WA_INSTANCES":      "sales,support",
		"WA_SALES_PROVIDER": "greenapi", "WA_SALES_INSTANCE": "1101000001", "WA_SALES_TOKEN": "t",
		"WA_SUPPORT_PROVIDER": "dryrun", "WA_SUPPORT_ALLOWED_CHANNELS": "C0SUPPORT",
	}
	c, err := loadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Len(t, c.numbers, 2)
	require.Equal(t, "sales", c.numbers[0].Name)
	require.Equal(t, "https://api.green-api.com", c.numbers[0].APIURL)
	require.Equal(t, []string{"C0SUPPORT"}, c.numbers[1].AllowedChannels)
}
