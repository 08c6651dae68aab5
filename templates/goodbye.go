package templates

import (
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// GoodbyeData is what a goodbye template can refer to, for example
// "Goodbye {{.GroupSubject}}, thanks from {{.RequesterName}}!" or
// "{{.Date.Format "2 January 2006"}}".
type GoodbyeData struct {
	GroupSubject  string    // the group's name ("" when the gateway did not say)
	GroupJID      string    // the group's ID
	RequesterName string    // Slack name of the person who asked
	Date          time.Time // when the request was made
}

// GoodbyeTemplate is a parsed goodbye text (WALEAVE_DEFAULT_GOODBYE). It is
// safe for concurrent use.
type GoodbyeTemplate struct {
	t *template.Template
}

// goodbyeName names the template in text/template's error messages, which
// ParseGoodbye then strips so errors read "line 1: …".
const goodbyeName = "goodbye"

// ParseGoodbye parses a goodbye template in text/template syntax. It also
// renders the template once with sample data, so a reference to a field
// that does not exist ({{.Group}}) is reported at start-up rather than
// when the first leave is requested. Errors describe the template only:
// the data a template can see holds nothing secret.
func ParseGoodbye(tmpl string) (*GoodbyeTemplate, error) {
	if r, bad := UnsafeGoodbyeRune(tmpl); bad {
		return nil, fmt.Errorf("invalid goodbye template: it contains %s, %s", codePoint(r), unsafeWhy(r))
	}
	t, err := template.New(goodbyeName).Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, goodbyeError{err}
	}
	g := &GoodbyeTemplate{t: t}
	sample := GoodbyeData{GroupSubject: "Group", GroupJID: "120363000000000000@g.us", RequesterName: "someone", Date: time.Unix(0, 0).UTC()}
	if _, err := g.Render(sample); err != nil {
		return nil, err
	}
	return g, nil
}

// Render fills in the template. The result goes to WhatsApp, not Slack, so
// it is not escaped for mrkdwn; surrounding white space is trimmed, and a
// template that renders to nothing means "no goodbye" ("").
//
// The group's name and the requester's come from WhatsApp and Slack
// users; characters a goodbye may not hold (see UnsafeGoodbyeRune) are
// dropped from them, so the rendered text holds none either.
func (g *GoodbyeTemplate) Render(d GoodbyeData) (string, error) {
	d.GroupSubject, d.GroupJID, d.RequesterName = safeText(d.GroupSubject), safeText(d.GroupJID), safeText(d.RequesterName)
	var b strings.Builder
	if err := g.t.Execute(&b, d); err != nil {
		return "", goodbyeError{err}
	}
	return strings.TrimSpace(b.String()), nil
}

// goodbyeError shortens text/template's messages ("template: goodbye:1:8:
// executing \"goodbye\" at <.Group>: can't evaluate field Group in type
// templates.GoodbyeData") to what an admin fixing the variable needs.
type goodbyeError struct{ err error }

// Error rewrites text/template's message into words an admin can act on.
func (e goodbyeError) Error() string {
	msg := e.err.Error()
	if rest, ok := strings.CutPrefix(msg, "template: "+goodbyeName+":"); ok {
		msg = "line " + rest
	}
	msg = strings.Replace(msg, `executing "`+goodbyeName+`" `, "", 1)
	msg = strings.Replace(msg, " in type templates.GoodbyeData", " (use GroupSubject, GroupJID, RequesterName or Date)", 1)
	return "invalid goodbye template: " + msg
}

func (e goodbyeError) Unwrap() error { return e.err }

// UnsafeGoodbyeRune returns the first character of text that a goodbye
// may not carry to a WhatsApp group, if there is one. A goodbye is posted
// as the company's number, in words the requester typed or a template an
// admin wrote, and the card showed it for confirmation: characters that
// make it read differently from what was confirmed, or that are not text
// at all, are refused. They are
//   - control characters (Unicode Cc) other than newline and tab: NUL,
//     escape sequences, carriage returns;
//   - invisible format characters (Cf), among them the bidirectional
//     embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069)
//     that reorder what follows them, zero-width spaces and joiners of
//     words, and the byte order mark;
//   - the line and paragraph separators (U+2028, U+2029);
//   - bytes that are not UTF-8.
//
// Some format characters are part of ordinary writing and stay allowed:
// the zero-width non-joiner and joiner (U+200C, U+200D: Persian and Indic
// scripts, and emoji such as 👩‍💻), the left-to-right, right-to-left and
// Arabic letter marks (U+200E, U+200F, U+061C: they only say which way
// one neutral character runs), and the tag characters (U+E0020–U+E007F)
// of subdivision flags such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿.
func UnsafeGoodbyeRune(text string) (rune, bool) {
	if !utf8.ValidString(text) {
		return utf8.RuneError, true
	}
	for _, r := range text {
		if unsafeRune(r) {
			return r, true
		}
	}
	return 0, false
}

func unsafeRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case unicode.Is(unicode.Cc, r), r == '\u2028', r == '\u2029':
		return true
	case r == '\u200C', r == '\u200D', r == '\u200E', r == '\u200F', r == '\u061C', r >= 0xE0020 && r <= 0xE007F:
		return false
	}
	return unicode.Is(unicode.Cf, r)
}

// safeText is s without the characters a goodbye may not carry.
func safeText(s string) string {
	if _, bad := UnsafeGoodbyeRune(s); !bad {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unsafeRune(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

// bidiControls are the characters that reorder the text after them.
var bidiControls = map[rune]string{
	'\u202A': "left-to-right embedding", '\u202B': "right-to-left embedding", '\u202C': "pop directional formatting",
	'\u202D': "left-to-right override", '\u202E': "right-to-left override",
	'\u2066': "left-to-right isolate", '\u2067': "right-to-left isolate", '\u2068': "first strong isolate", '\u2069': "pop directional isolate",
}

// codePoint names r as U+XXXX, with its name when it is a bidi control;
// utf8.RuneError stands for bytes that are not UTF-8 (UnsafeGoodbyeRune).
func codePoint(r rune) string {
	if r == '\uFFFD' {
		return "bytes that are not UTF-8 text"
	}
	if name, ok := bidiControls[r]; ok {
		return fmt.Sprintf("U+%04X (%s)", r, name)
	}
	return fmt.Sprintf("U+%04X", r)
}

// unsafeWhy says in a few words what is wrong with r.
func unsafeWhy(r rune) string {
	switch {
	case bidiControls[r] != "":
		return "which reorders the text after it, so the group could read something other than what was confirmed"
	case unicode.Is(unicode.Cc, r), r == '\uFFFD':
		return "which is not text"
	default:
		return "an invisible character that could make the text read differently from what was confirmed"
	}
}

// BadGoodbye answers a command whose goodbye holds a character a
// goodbye may not carry (see UnsafeGoodbyeRune): which one, and why.
func BadGoodbye(r rune) string {
	return ":warning: The goodbye contains " + codePoint(r) + ", " + unsafeWhy(r) + ". Remove it (it may have come with pasted text) and try again. Nothing was recorded."
}
