package bot

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// blockActionsJSON is a leave_confirm click as Slack sends it (trimmed to the
// fields we read, plus a few we do not, to show they are tolerated).
const blockActionsJSON = `{"type":"block_actions","api_app_id":"A1","team":{"id":"T1","domain":"d"},
 "user":{"id":"U1","username":"alice","team_id":"T1"},
 "container":{"type":"message","message_ts":"1700000000.000100","channel_id":"C123","is_ephemeral":false},
 "channel":{"id":"C123","name":"ops"},
 "message":{"ts":"1700000000.000100","text":"Leave Phoenix?","blocks":[]},
 "trigger_id":"123.456.abc","response_url":"https://hooks.slack.com/actions/T1/1/abc",
 "actions":[{"type":"button","action_id":"leave_confirm","block_id":"wa_leave",
             "value":"req-42","text":{"type":"plain_text","text":"Leave"},
             "style":"danger","action_ts":"1700000001.000200"}],
 "state":{"values":{}}}`

func formBody(payload string) []byte {
	return []byte(url.Values{"payload": {payload}}.Encode())
}

func TestDecodeInteractionBlockActions(t *testing.T) {
	ic, err := DecodeInteraction(formBody(blockActionsJSON))
	if err != nil {
		t.Fatal(err)
	}
	if ic.Type != slack.InteractionTypeBlockActions {
		t.Errorf("Type = %q, want %q", ic.Type, slack.InteractionTypeBlockActions)
	}
	if got, want := ic.User.ID, "U1"; got != want {
		t.Errorf("User.ID = %q, want %q", got, want)
	}
	if got, want := ic.Channel.ID, "C123"; got != want {
		t.Errorf("Channel.ID = %q, want %q", got, want)
	}
	if got, want := ic.Container.MessageTs, "1700000000.000100"; got != want {
		t.Errorf("Container.MessageTs = %q, want %q", got, want)
	}
	if got, want := ic.ResponseURL, "https://hooks.slack.com/actions/T1/1/abc"; got != want {
		t.Errorf("ResponseURL = %q, want %q", got, want)
	}
	actions := ic.ActionCallback.BlockActions
	if len(actions) != 1 {
		t.Fatalf("got %d actions, want 1", len(actions))
	}
	if got, want := actions[0].ActionID, "leave_confirm"; got != want {
		t.Errorf("ActionID = %q, want %q", got, want)
	}
	if got, want := actions[0].Value, "req-42"; got != want {
		t.Errorf("Value = %q, want %q", got, want)
	}
}

func TestDecodeInteractionErrors(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"empty body", nil},
		{"no payload field", []byte("token=abc&type=block_actions")},
		{"empty payload", []byte("payload=")},
		{"payload only in another field", []byte("xpayload=" + url.QueryEscape(blockActionsJSON))},
		{"bad form encoding", []byte("payload=%zz")},
		{"payload not json", formBody("not json")},
		{"payload truncated", formBody(blockActionsJSON[:40])},
		{"payload null", formBody("null")},
		{"payload a string", formBody(`"block_actions"`)},
		{"payload an array", formBody(`[]`)},
		{"payload with wrong field types", formBody(`{"type":"block_actions","user":"U1"}`)},
		{"over the body cap", formBody(`{"type":"block_actions","x":"` + strings.Repeat("a", maxBodyBytes) + `"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeInteraction(tt.body); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func FuzzDecodeInteraction(f *testing.F) {
	f.Add(formBody(blockActionsJSON))
	f.Add(formBody(`{"type":"view_submission","view":{"callback_id":"x","state":{"values":{}}}}`))
	f.Add(formBody(`{"type":"block_actions","state":"{}"}`))
	f.Add([]byte("payload=%7B%7D"))
	f.Add([]byte("payload=null"))
	f.Add(formBody(`{"type":"block_actions","team":{"id":"T1"},"enterprise":{"id":"E1","name":"Org"},"is_enterprise_install":true}`))
	f.Add(formBody(`{"type":"block_actions","enterprise":null,"is_enterprise_install":false}`))
	f.Add(formBody(`{"type":"block_actions","actions":[{"action_id":"a","value":"v"},{"action_id":"wa_successor","block_id":null},{"action_id":"wa_successor","block_id":"b","selected_option":{"value":"123@c.us"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ic, err := DecodeInteraction(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			if ref, ok := slackGoDecode(body); ok && ref.Type != "" {
				// Accepting less than slack-go is fine only for shapes
				// slack-go reads as an empty interaction anyway.
				t.Fatalf("slack-go decodes a %q interaction that DecodeInteraction refuses: %v", ref.Type, err)
			}
			return
		}
		// Whatever decoded must have come from a payload object.
		if !strings.Contains(string(body), "payload=") {
			t.Fatalf("decoded %+v from a body without payload", ic.Type)
		}
		// Where slack-go's full decoding succeeds, the fields the bot
		// reads must agree with it.
		if ref, ok := slackGoDecode(body); ok {
			if got, want := readFields(ic), readFields(ref); got != want {
				t.Fatalf("fields differ from slack-go's decoding:\n got %s\nwant %s", got, want)
			}
		}
	})
}

// slackGoDecode is the reference: slack-go's own decoding of the payload.
func slackGoDecode(body []byte) (slack.InteractionCallback, bool) {
	var ic slack.InteractionCallback
	form, err := url.ParseQuery(string(body))
	if err != nil || len(body) > maxBodyBytes {
		return ic, false
	}
	p := form.Get("payload")
	if !strings.HasPrefix(strings.TrimLeft(p, " \t\r\n"), "{") {
		return ic, false
	}
	if err := json.Unmarshal([]byte(p), &ic); err != nil {
		return ic, false
	}
	return ic, true
}

// readFields renders every field of an interaction the bot reads.
func readFields(ic slack.InteractionCallback) string {
	s := fmt.Sprintf("type=%q trigger=%q response_url=%q team=%q enterprise=%q/%v user=%q channel=%q container=%q/%q/%q",
		ic.Type, ic.TriggerID, ic.ResponseURL, ic.Team.ID, ic.Enterprise.ID, ic.IsEnterpriseInstall, ic.User.ID, ic.Channel.ID,
		ic.Container.Type, ic.Container.MessageTs, ic.Container.ChannelID)
	for _, a := range ic.ActionCallback.BlockActions {
		s += fmt.Sprintf(" action{id=%q block=%q type=%q value=%q ts=%q selected=%q}",
			a.ActionID, a.BlockID, a.Type, a.Value, a.ActionTs, a.SelectedOption.Value)
	}
	return s
}
