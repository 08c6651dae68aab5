package templates

import (
	"fmt"
	"testing"

	"github.com/slack-go/slack"
)

// checkLimits fails t for anything in blocks that Slack would reject
// (https://docs.slack.dev/reference/block-kit): one violation makes
// chat.postMessage fail with invalid_blocks, so the card would never show.
func checkLimits(t *testing.T, blocks []slack.Block) {
	t.Helper()
	if len(blocks) > maxBlocks {
		t.Errorf("%d blocks, limit %d", len(blocks), maxBlocks)
	}
	ids := make(map[string]bool)
	text := func(where string, o *slack.TextBlockObject, limit int) {
		t.Helper()
		if o == nil {
			t.Errorf("%s: missing text", where)
			return
		}
		if o.Text == "" {
			t.Errorf("%s: empty text", where)
		}
		if w := width(o.Text); w > limit {
			t.Errorf("%s: text is %d characters, limit %d", where, w, limit)
		}
	}
	plainOnly := func(where string, o *slack.TextBlockObject, limit int) {
		t.Helper()
		text(where, o, limit)
		if o != nil && o.Type != slack.PlainTextType {
			t.Errorf("%s: type %q, Slack requires plain_text", where, o.Type)
		}
	}
	var element func(where string, e slack.BlockElement)
	element = func(where string, e slack.BlockElement) {
		t.Helper()
		switch e := e.(type) {
		case *slack.ButtonBlockElement:
			plainOnly(where+" button", e.Text, maxButtonText)
			if len(e.ActionID) > 255 || e.ActionID == "" {
				t.Errorf("%s: action_id %q", where, e.ActionID)
			}
			if len(e.Value) > 2000 {
				t.Errorf("%s: value is %d characters, limit 2000", where, len(e.Value))
			}
			if c := e.Confirm; c != nil {
				plainOnly(where+" confirm title", c.Title, maxDialogTitle)
				plainOnly(where+" confirm text", c.Text, maxDialogText)
				plainOnly(where+" confirm confirm", c.Confirm, maxDialogWord)
				plainOnly(where+" confirm deny", c.Deny, maxDialogWord)
			}
		case *slack.SelectBlockElement:
			plainOnly(where+" placeholder", e.Placeholder, 150)
			if len(e.Options) == 0 || len(e.Options) > maxOptions {
				t.Errorf("%s: %d options, want 1..%d", where, len(e.Options), maxOptions)
			}
			for i, o := range e.Options {
				plainOnly(fmt.Sprintf("%s option %d", where, i), o.Text, maxOptionText)
				if o.Value == "" || len(o.Value) > maxOptionValue {
					t.Errorf("%s option %d: value %q", where, i, o.Value)
				}
			}
		default:
			t.Errorf("%s: unexpected element %T", where, e)
		}
	}
	for i, b := range blocks {
		where := fmt.Sprintf("block %d (%s)", i, b.ID())
		if id := b.ID(); id == "" || len(id) > 255 || ids[id] {
			t.Errorf("%s: block_id missing, too long or repeated", where)
		} else {
			ids[id] = true
		}
		switch b := b.(type) {
		case *slack.HeaderBlock:
			plainOnly(where, b.Text, maxHeader)
		case *slack.SectionBlock:
			text(where, b.Text, maxSectionText)
			if len(b.Fields) > 10 {
				t.Errorf("%s: %d fields, limit 10", where, len(b.Fields))
			}
			for j, f := range b.Fields {
				text(fmt.Sprintf("%s field %d", where, j), f, maxField)
			}
			if a := b.Accessory; a != nil {
				switch {
				case a.ButtonElement != nil:
					element(where, a.ButtonElement)
				case a.SelectElement != nil:
					element(where, a.SelectElement)
				default:
					t.Errorf("%s: unexpected accessory", where)
				}
			}
		case *slack.ContextBlock:
			els := b.ContextElements.Elements
			if len(els) == 0 || len(els) > 10 {
				t.Errorf("%s: %d context elements, want 1..10", where, len(els))
			}
			for j, e := range els {
				o, ok := e.(*slack.TextBlockObject)
				if !ok {
					t.Errorf("%s element %d: unexpected %T", where, j, e)
					continue
				}
				text(fmt.Sprintf("%s element %d", where, j), o, maxSectionText)
			}
		case *slack.ActionBlock:
			els := b.Elements.ElementSet
			if len(els) == 0 || len(els) > 25 {
				t.Errorf("%s: %d elements, want 1..25", where, len(els))
			}
			actionIDs := make(map[string]bool)
			for j, e := range els {
				element(fmt.Sprintf("%s element %d", where, j), e)
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					if actionIDs[btn.ActionID] {
						t.Errorf("%s: action_id %q repeated within the block", where, btn.ActionID)
					}
					actionIDs[btn.ActionID] = true
				}
			}
		default:
			t.Errorf("%s: unexpected block %T", where, b)
		}
	}
}

// interactive lists every button and select in blocks.
func interactive(blocks []slack.Block) (buttons []*slack.ButtonBlockElement, selects []*slack.SelectBlockElement) {
	add := func(e slack.BlockElement) {
		switch e := e.(type) {
		case *slack.ButtonBlockElement:
			buttons = append(buttons, e)
		case *slack.SelectBlockElement:
			selects = append(selects, e)
		}
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Accessory != nil {
				if b.Accessory.ButtonElement != nil {
					add(b.Accessory.ButtonElement)
				}
				if b.Accessory.SelectElement != nil {
					add(b.Accessory.SelectElement)
				}
			}
		case *slack.ActionBlock:
			for _, e := range b.Elements.ElementSet {
				add(e)
			}
		}
	}
	return buttons, selects
}

// mrkdwnTexts lists the text of every mrkdwn object in blocks: the only
// places where Slack turns "<…>" into mentions and links.
func mrkdwnTexts(blocks []slack.Block) []string {
	var out []string
	add := func(o *slack.TextBlockObject) {
		if o != nil && o.Type == slack.MarkdownType {
			out = append(out, o.Text)
		}
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			add(b.Text)
			for _, f := range b.Fields {
				add(f)
			}
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if o, ok := e.(*slack.TextBlockObject); ok {
					add(o)
				}
			}
		}
	}
	return out
}
