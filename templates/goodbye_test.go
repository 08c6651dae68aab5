package templates

import (
	"errors"
	"strings"
	"testing"
	"text/template"
	"time"
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
