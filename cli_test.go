package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// goldenFile compares got with testdata/name, or rewrites it with -update.
func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "go test -run %s -update creates it", t.Name())
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// waleave help lists each command form on its own line (the two forms
// of manifest exclude each other), does not repeat envconfig's
// introduction, and lines its columns up with spaces.
func TestRun_HelpGolden(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"help"}, envOf(nil), &out, &out))
	goldenFile(t, "help.golden", out.Bytes())

	s := out.String()
	require.NotContains(t, s, "This application is configured via the environment")
	require.NotContains(t, s, "\t", "columns are spaces, lined up")
	require.NotContains(t, s, "[--socket-mode]")
	require.Contains(t, s, "  waleave manifest --url https://host ")
	require.Contains(t, s, "  waleave manifest --socket-mode ")

	// Every row of each table starts its columns where the header (or
	// the first row) does.
	lines := strings.Split(s, "\n")
	header := slicesIndex(lines, func(l string) bool { return strings.HasPrefix(l, "VARIABLE") })
	require.GreaterOrEqual(t, header, 0)
	col := func(l, word string) int { return utf8.RuneCountInString(l[:strings.Index(l, word)]) }
	def, desc := col(lines[header], "DEFAULT"), col(lines[header], "DESCRIPTION")
	rows := 0
	for _, l := range lines[header+1:] {
		if l == "" {
			continue
		}
		rows++
		r := []rune(l)
		require.Greater(t, len(r), desc, l)
		require.Equal(t, "  ", string(r[def-2:def]), "DEFAULT column of %q", l)
		require.Equal(t, "  ", string(r[desc-2:desc]), "DESCRIPTION column of %q", l)
		require.NotEqual(t, ' ', r[desc], "DESCRIPTION column of %q", l)
	}
	vars := 0
	for f := range reflect.TypeFor[config]().Fields() {
		if f.Tag.Get("envconfig") != "" {
			vars++
		}
	}
	require.Equal(t, vars, rows, "one row per variable")
}

func slicesIndex(s []string, f func(string) bool) int {
	for i, v := range s {
		if f(v) {
			return i
		}
	}
	return -1
}

// Arguments a command does not take are an error, not silently ignored.
func TestRun_RefusesExtraArguments(t *testing.T) {
	for _, args := range [][]string{{"version", "--short"}, {"check", "now"}, {"help", "manifest"}, {"--version", "x"}} {
		var out bytes.Buffer
		err := run(t.Context(), args, envOf(nil), &out, &out)
		require.ErrorContains(t, err, "takes no arguments", "%v", args)
		require.ErrorContains(t, err, args[1])
	}
	require.ErrorContains(t, run(t.Context(), []string{"frobnicate"}, envOf(nil), &bytes.Buffer{}, &bytes.Buffer{}), "unknown command")
}

func TestRun_VersionFlag(t *testing.T) {
	var flag, word bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"--version"}, envOf(nil), &flag, &flag))
	require.NoError(t, run(t.Context(), []string{"version"}, envOf(nil), &word, &word))
	require.True(t, strings.HasPrefix(flag.String(), "waleave "), flag.String())
	require.Equal(t, word.String(), flag.String())
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"365d": 365 * 24 * time.Hour, "1d12h": 36 * time.Hour, "1d": 24 * time.Hour, "1.5d": 36 * time.Hour,
		"90m": 90 * time.Minute, "2h30m": 150 * time.Minute, "0": 0, "-1d": -24 * time.Hour, "10d1s": 240*time.Hour + time.Second,
	} {
		got, err := parseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"d", "1x", "forever", "1e400d", "9999999999d", "1d 2h", ""} {
		_, err := parseDuration(in)
		require.Error(t, err, in)
	}
}

// Every duration variable takes days (SPEC §2: 365d, 1d12h); a value
// that is no duration is reported once, as not a duration, and not also
// as out of range.
func TestLoadConfig_Durations(t *testing.T) {
	typ := reflect.TypeFor[config]()
	n := 0
	for i := range typ.NumField() {
		f := typ.Field(i)
		key := f.Tag.Get("envconfig")
		if f.Type != reflect.TypeFor[time.Duration]() || key == "" {
			continue
		}
		n++
		env := validEnv()
		env[key] = "1d12h"
		c, err := loadConfig(envOf(env))
		if err != nil {
			// A bounded variable (the gateway timeout) may refuse a day
			// and a half, but as out of range, not as unreadable.
			require.NotContains(t, err.Error(), "duration", key)
			require.Contains(t, err.Error(), key)
		} else {
			require.Equal(t, 36*time.Hour, reflect.ValueOf(c).Field(i).Interface(), key)
		}
		for _, badValue := range []string{"forever", "1 day", "-"} {
			env[key] = badValue
			_, err = loadConfig(envOf(env))
			require.Error(t, err, "%s=%s", key, badValue)
			require.Equal(t, 1, strings.Count(err.Error(), key), "%s named once: %v", key, err)
			require.Equal(t, 1, strings.Count(err.Error(), "\n  "), "one problem: %v", err)
			require.Contains(t, err.Error(), "must be a duration such as 90m, 24h or 7d")
		}
	}
	require.GreaterOrEqual(t, n, 4, "the duration variables were found")
}

// With WA_PROVIDER=dryrun only Slack's variables are needed; every other
// provider still needs WA_INSTANCE and WA_TOKEN.
func TestLoadConfig_DryRunNeedsNoGateway(t *testing.T) {
	env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "WA_PROVIDER": "dryrun"}
	c, err := loadConfig(envOf(env))
	require.NoError(t, err)
	require.Equal(t, "dryrun", c.WAProvider)

	env["WA_PROVIDER"] = "greenapi"
	_, err = loadConfig(envOf(env))
	require.ErrorContains(t, err, "WA_INSTANCE is required")
	require.ErrorContains(t, err, "WA_TOKEN is required")
}
