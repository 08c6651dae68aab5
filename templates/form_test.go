package templates

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// renderJSON is v as Slack receives it, indented, HTML escaping off.
func renderJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(v))
	return buf.Bytes()
}

func TestFormGolden(t *testing.T) {
	golden(t, "form", renderJSON(t, RequestForm(Form{Metadata: `{"c":"C1"}`, DefaultGoodbye: "Thanks all, this number is leaving the group.", MaxGroups: 500})))
	golden(t, "form_shortcut", renderJSON(t, RequestForm(Form{DefaultGoodbye: "Bye"})))
	golden(t, "form_successor", renderJSON(t, RequestForm(Form{Metadata: `{"c":"C1"}`, DefaultGoodbye: "Bye",
		Groups: []GroupOption{{JID: "120363406289005073@g.us", Subject: "Project <Phoenix>"}}, MaxGroups: 500,
		Successors: []Participant{{JID: "447700900001@c.us", Name: "Ana"}, {JID: "447700900002@c.us"}}})))
	golden(t, "form_bulk", renderJSON(t, RequestForm(Form{Metadata: `{"c":"C1"}`, MaxGroups: 500,
		Groups: []GroupOption{{JID: "120363406289005073@g.us", Subject: "Project <Phoenix>"}, {JID: "120363400000000001@g.us"}}})))
	golden(t, "form_errors", renderJSON(t, FormErrors(map[string]string{BlockWhen: "2026-11-01 09:00 CET is in the past"})))
}

func TestFormNumbersOnlyWhenSeveral(t *testing.T) {
	one, _ := json.Marshal(RequestForm(Form{Numbers: []string{"sales"}}))
	require.NotContains(t, string(one), BlockNumber)
	two, _ := json.Marshal(RequestForm(Form{Numbers: []string{"sales", "support"}}))
	require.Contains(t, string(two), `"block_id":"`+BlockNumber+`"`)
}

func TestGroupOptionsGolden(t *testing.T) {
	golden(t, "options", renderJSON(t, GroupOptions([]GroupOption{
		{JID: "120363406289005073@g.us", Subject: "Project <Phoenix> & co"},
		{JID: "11001234567-1587570015@g.us"},
		{JID: "120363400000000001@g.us", Subject: strings.Repeat("long name ", 10)},
	})))
	empty := renderJSON(t, GroupOptions(nil))
	require.JSONEq(t, `{"options":[]}`, string(empty), "no match is an empty list, which Slack shows as no results")

	many := make([]GroupOption, 150)
	for i := range many {
		many[i] = GroupOption{JID: fmt.Sprintf("1203634%011d@g.us", i), Subject: "g"}
	}
	many[0].JID = strings.Repeat("1", 151) + "@g.us"
	got := GroupOptions(many)
	require.Len(t, got.Options, maxOptions)
	require.Equal(t, many[1].JID, got.Options[0].Value, "a value Slack would refuse is left out")
	for _, o := range got.Options {
		require.LessOrEqual(t, width(o.Text.Text), maxOptionText)
	}
}
