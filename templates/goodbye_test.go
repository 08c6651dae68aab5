package templates

import (
	"errors"
	"strings"
	"testing"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestGoodbyeRender(t *testing.T) {
	data := GoodbyeData{
		GroupSubject:  "Night shift & <friends>",
		GroupJID:      "120363406289005073@g.us",
		RequesterName: "ana",
		Date:          time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
	}
	tests := []struct{ tmpl, want string }{
		{"Goodbye {{.GroupSubject}}!", "Goodbye Night shift & <friends>!"}, // WhatsApp text: not escaped for Slack
		{"Bye from {{.RequesterName}} on {{.Date.Format \"2 January 2006\"}}", "Bye from ana on 23 November 2026"},
		{"{{.GroupJID}}", "120363406289005073@g.us"},
		{"  \n Thanks, all \n", "Thanks, all"},
		{"{{if .GroupSubject}}Bye {{.GroupSubject}}{{else}}Bye{{end}}", "Bye Night shift & <friends>"},
		{"{{/* nothing */}}", ""},
		{"no placeholders", "no placeholders"},
	}
	for _, tt := range tests {
		g, err := ParseGoodbye(tt.tmpl)
		if err != nil {
			t.Errorf("ParseGoodbye(%q): %v", tt.tmpl, err)
			continue
		}
		got, err := g.Render(data)
		if err != nil {
			t.Errorf("Render(%q): %v", tt.tmpl, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.tmpl, got, tt.want)
		}
	}
}

func TestParseGoodbyeErrors(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"Bye {{.GroupSubject", "invalid goodbye template: line 1: unclosed action"},
		{"Bye {{.Group}}", "invalid goodbye template: line 1:6: at <.Group>: can't evaluate field Group (use GroupSubject, GroupJID, RequesterName or Date)"},
		{"Bye {{env \"WA_TOKEN\"}}", `invalid goodbye template: line 1: function "env" not defined`},
		{"{{template \"other\"}}", `invalid goodbye template: line 1:11: at <{{template "other"}}>: template "other" not defined`},
	}
	for _, tt := range tests {
		g, err := ParseGoodbye(tt.tmpl)
		if err == nil {
			t.Errorf("ParseGoodbye(%q) = %v, want an error", tt.tmpl, g)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseGoodbye(%q) error\n got %q\nwant %q", tt.tmpl, err, tt.want)
		}
		var execErr template.ExecError
		if strings.Contains(tt.want, " at <") && !errors.As(err, &execErr) {
			t.Errorf("ParseGoodbye(%q): %v does not unwrap to a template.ExecError", tt.tmpl, err)
		}
	}
}

func TestUnsafeGoodbyeRune(t *testing.T) {
	for text, want := range map[string]rune{
		"a\u202Ab": '\u202A', "a\u202Bb": '\u202B', "a\u202Cb": '\u202C', "a\u202Db": '\u202D', "a\u202Eb": '\u202E',
		"a\u2066b": '\u2066', "a\u2067b": '\u2067', "a\u2068b": '\u2068', "a\u2069b": '\u2069',
		"a\x00b": 0, "a\x1bb": '\x1b', "a\rb": '\r', "a\x7fb": '\x7f', "a\u0085b": '\u0085',
		"a\u200Bb": '\u200B', "a\uFEFFb": '\uFEFF', "a\u2060b": '\u2060', "a\u00ADb": '\u00AD', "a\u2028b": '\u2028', "a\u2029b": '\u2029',
		"a\xffb": utf8.RuneError,
	} {
		got, bad := UnsafeGoodbyeRune(text)
		if !bad || got != want {
			t.Errorf("UnsafeGoodbyeRune(%q) = %U, %v; want %U, true", text, got, bad, want)
		}
	}
	for _, text := range []string{
		"", "Bye all!\nSee you\tsoon", "👩\u200D💻 👍🏽 🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
		"می\u200Cخواهم", "שלום\u200F!", "مرحبا\u061C", "a\u200Eb", "\uFFFD is a real character",
	} {
		if r, bad := UnsafeGoodbyeRune(text); bad {
			t.Errorf("UnsafeGoodbyeRune(%q) = %U; want none", text, r)
		}
	}
}

// A goodbye template with such a character is refused at start-up; the
// group's and the requester's names lose theirs when rendered, so no
// goodbye carries one to a group.
func TestGoodbye_UnsafeCharacters(t *testing.T) {
	_, err := ParseGoodbye("Bye \u202Eall")
	require.EqualError(t, err, "invalid goodbye template: it contains U+202E (right-to-left override), which reorders the text after it, so the group could read something other than what was confirmed")
	g, err := ParseGoodbye("Bye {{.GroupSubject}}, from {{.RequesterName}}")
	require.NoError(t, err)
	got, err := g.Render(GoodbyeData{GroupSubject: "Ops\u202E\x00 team 👩\u200D💻", RequesterName: "ann\u2066\xff"})
	require.NoError(t, err)
	require.Equal(t, "Bye Ops team 👩\u200D💻, from ann", got)
	require.Equal(t, ":warning: The goodbye contains U+001B, which is not text. Remove it (it may have come with pasted text) and try again. Nothing was recorded.", BadGoodbye('\x1b'))
}
