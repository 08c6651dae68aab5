package templates

import (
	"strings"
	"text/template"
	"time"
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
func (g *GoodbyeTemplate) Render(d GoodbyeData) (string, error) {
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
