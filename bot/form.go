package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// formStore is what the leave form needs of the store.
type formStore interface {
	DirectoryGroup(ctx context.Context, jid string) (e store.DirectoryEntry, ok bool, err error)
	NumbersDirectory(ctx context.Context, numbers ...string) ([]store.DirectoryEntry, error)
	SetDetails(ctx context.Context, id string, d store.Details, now time.Time) (bool, error)
	SetSuccessor(ctx context.Context, id, jid, by string, now time.Time) (*store.Request, error)
}

// formMeta is the form's private_metadata: where it was opened. Slack
// keeps it with the view and the client cannot change it, but it is
// checked again on submission all the same.
type formMeta struct {
	Channel string `json:"c,omitempty"`
	// Goodbye identifies the default goodbye the form was last filled
	// with (a hash: a goodbye can be longer than private_metadata), so a
	// goodbye left as it was can be filled again for the picked group.
	Goodbye string `json:"g,omitempty"`
}

// goodbyeMark is what formMeta keeps of a pre-filled goodbye.
func goodbyeMark(text string) string {
	if text == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:8])
}

func metaOf(v slack.View) formMeta {
	var m formMeta
	_ = json.Unmarshal([]byte(v.PrivateMetadata), &m) // none: opened from a shortcut
	return m
}

func (m formMeta) String() string {
	b, _ := json.Marshal(m)
	return string(b)
}

// mayUseForm reports whether user may see the form (and the group names
// its picker lists). Opened from a channel, the command's rule applies;
// from a shortcut, which comes from no channel, only people allowed
// everywhere (WALEAVE_ALLOWED_USERS) may: a channel allow-list says
// nothing about a person until a channel is chosen.
func (b *Bot) mayUseForm(user, channel string) decision {
	if channel != "" {
		return b.mayRequest(user, channel)
	}
	if len(b.opts.AllowedUsers) == 0 && len(b.opts.AllowedChannels) == 0 {
		return notConfigured
	}
	if slices.Contains(b.opts.AllowedUsers, user) {
		return allowed
	}
	return notAllowed
}

// openForm opens the request form with triggerID (valid for three
// seconds, so this runs before the ack). channel is where the form was
// opened ("" from a shortcut: the form then asks for one). It returns the
// text to answer with when the form cannot be opened.
func (b *Bot) openForm(ctx context.Context, user, name, channel, triggerID string) string {
	switch b.mayUseForm(user, channel) {
	case allowed:
	case notConfigured:
		return templates.NotConfigured()
	default:
		return templates.NotAllowed()
	}
	goodbye := b.defaultGoodbye(name, "", "")
	f := templates.Form{Metadata: formMeta{Channel: channel, Goodbye: goodbyeMark(goodbye)}.String(), AskChannel: channel == "",
		DefaultGoodbye: goodbye, Numbers: b.numberNames(), MaxGroups: b.opts.BulkMax}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	if _, err := b.slack.OpenViewContext(ctx, triggerID, templates.RequestForm(f)); err != nil {
		b.log.Warn("open the request form", "user", user, "err", err)
		return templates.FormUnavailable()
	}
	b.metrics.commands.WithLabelValues("form").Inc()
	return ""
}

// openFormNowhere opens the form from the shortcut or the Home tab,
// which come from no channel. A refusal has no channel to be said in
// (the form is simply not shown), so it is logged.
func (b *Bot) openFormNowhere(ctx context.Context, ic slack.InteractionCallback) {
	if text := b.openForm(ctx, ic.User.ID, ic.User.Name, "", ic.TriggerID); text != "" {
		b.metrics.commands.WithLabelValues("refused").Inc()
		b.log.Info("request form not opened outside a channel", "user", ic.User.ID)
	}
}

// defaultGoodbye is the default goodbye to pre-fill the form with, or ""
// when there is none. Until a group is picked, a template that names the
// group renders without the name; the form fills it again once one is
// (see formChanged).
func (b *Bot) defaultGoodbye(requester, subject, jid string) string {
	if b.opts.DefaultGoodbye == nil {
		return ""
	}
	text, err := b.opts.DefaultGoodbye.Render(templates.GoodbyeData{GroupSubject: subject, GroupJID: jid, RequesterName: requester, Date: b.opts.Now()})
	if err != nil {
		b.log.Error("render default goodbye", "err", err)
		return ""
	}
	return text
}

// maxQuery bounds the search text read from a block_suggestion.
const maxQuery = 200

// options answers the group picker's block_suggestion from the stored
// directory: groups whose name contains the typed text, then groups whose
// JID does, at most Slack's 100. One indexed-free read of the directory
// is fast enough (BenchmarkOptions: 10,000 groups) and always current.
func (b *Bot) options(ctx context.Context, ic slack.InteractionCallback) templates.Options {
	if b.foreign(ic.Team.ID, ic.Enterprise.ID, ic.IsEnterpriseInstall) != "" ||
		b.mayUseForm(ic.User.ID, metaOf(ic.View).Channel) != allowed {
		return templates.GroupOptions(nil)
	}
	entries, err := b.formStore.NumbersDirectory(ctx) // every number's groups
	if err != nil {
		b.log.Error("group options", "err", err)
		return templates.GroupOptions(nil)
	}
	q := ic.Value
	if len(q) > maxQuery {
		q = q[:maxQuery]
	}
	return templates.GroupOptions(groupChoices(entries, q, 100))
}

// groupChoices picks up to n groups for the query q: names containing q
// (case ignored) in directory order, then JIDs containing it.
func groupChoices(entries []store.DirectoryEntry, q string, n int) []templates.GroupOption {
	q = strings.ToLower(strings.TrimSpace(q))
	var names, jids []templates.GroupOption
	seen := map[string]bool{} // a group several numbers are in is listed once
	for _, e := range entries {
		if len(names) == n {
			break
		}
		if seen[e.JID] {
			continue
		}
		seen[e.JID] = true
		switch {
		case q == "" || containsFold(e.Subject, q):
			names = append(names, templates.GroupOption{JID: e.JID, Subject: e.Subject})
		case len(jids) < n && strings.Contains(e.JID, q):
			jids = append(jids, templates.GroupOption{JID: e.JID, Subject: e.Subject})
		}
	}
	out := append(names, jids...)
	return out[:min(len(out), n)]
}

// containsFold reports whether s contains the lower-case q, case ignored,
// without allocating for ASCII names (most are).
func containsFold(s, q string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.Contains(strings.ToLower(s), q)
		}
	}
	if len(q) > len(s) {
		return false
	}
outer:
	for i := 0; i+len(q) <= len(s); i++ {
		for j := 0; j < len(q); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != q[j] {
				continue outer
			}
		}
		return true
	}
	return false
}

// formChanged reacts to a group being picked in the form: when the number
// is the group's only admin, the form is updated to ask for a successor
// (and updated back when another group is picked). The group is looked up
// as the card does (shared and cached), within lookupTimeout.
func (b *Bot) formChanged(ctx context.Context, ic slack.InteractionCallback) {
	var jids []string
	for _, a := range ic.ActionCallback.BlockActions {
		if a.ActionID == templates.ActionFormGroup {
			jids = pickedGroups(*a)
		}
	}
	meta := metaOf(ic.View)
	hasSuccessor := ic.View.State != nil && ic.View.State.Values[templates.BlockSuccessor] != nil
	if len(jids) > 1 && hasSuccessor && b.mayUseForm(ic.User.ID, meta.Channel) == allowed {
		// Several groups: a bulk request, which chooses no successor.
		b.updateForm(ctx, ic, templates.Form{AskChannel: meta.Channel == "", Numbers: b.numberNames(), MaxGroups: b.opts.BulkMax,
			Groups: b.formGroups(ctx, jids), Metadata: meta.String(), GoodbyeAction: goodbyeActionOf(ic)})
		return
	}
	if len(jids) != 1 || b.mayUseForm(ic.User.ID, meta.Channel) != allowed {
		return
	}
	jid := jids[0]
	var successors []templates.Participant
	if n := b.formNumber(ic); n == nil {
		// Several numbers and none chosen yet: whose admin rights count
		// is not known, so the card asks once the request has a number.
	} else if f := b.fetchGroup(n, jid, detailsTTL); f.wait(ctx, lookupTimeout) && f.err == nil {
		d := detailsOf(f.group, f.self)
		if d.OnlyAdmin {
			for _, p := range d.Successors {
				successors = append(successors, templates.Participant{JID: p})
			}
		}
	}
	subject := ""
	if e, ok, err := b.formStore.DirectoryGroup(ctx, jid); err == nil && ok {
		subject = e.Subject
	}
	f := templates.Form{AskChannel: meta.Channel == "", Numbers: b.numberNames(), MaxGroups: b.opts.BulkMax,
		Groups: []templates.GroupOption{{JID: jid, Subject: subject}}, Successors: successors}
	// Slack keeps what was typed in a field whose block and action IDs
	// stay the same. A goodbye left as pre-filled is filled again for
	// this group, under the other action ID so that Slack takes the new
	// text.
	var typed string
	f.GoodbyeAction = templates.ActionFormGoodbye
	if ic.View.State != nil {
		for action, a := range ic.View.State.Values[templates.BlockGoodbye] {
			f.GoodbyeAction, typed = action, a.Value
		}
	}
	refill := false
	if meta.Goodbye != "" && goodbyeMark(typed) == meta.Goodbye {
		if d := b.defaultGoodbye(ic.User.Name, subject, jid); d != typed {
			f.DefaultGoodbye, meta.Goodbye, refill = d, goodbyeMark(d), true
			f.GoodbyeAction = templates.OtherGoodbyeAction(f.GoodbyeAction)
		}
	}
	f.Metadata = meta.String()
	if len(successors) == 0 && !hasSuccessor && !refill {
		return // nothing to change
	}
	b.updateForm(ctx, ic, f)
}

// updateForm redraws the open form as f.
func (b *Bot) updateForm(ctx context.Context, ic slack.InteractionCallback, f templates.Form) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	// The hash makes Slack refuse the update if the form changed
	// meanwhile (another pick): the later pick's update wins.
	if _, err := b.slack.UpdateViewContext(ctx, templates.RequestForm(f), "", ic.View.Hash, ic.View.ID); err != nil {
		b.log.Warn("update the request form", "err", err)
	}
}

// goodbyeActionOf is the action ID the open form's goodbye field has.
func goodbyeActionOf(ic slack.InteractionCallback) string {
	if ic.View.State != nil {
		for action := range ic.View.State.Values[templates.BlockGoodbye] {
			return action
		}
	}
	return templates.ActionFormGoodbye
}

// pickedGroups are the groups chosen in the form's picker: a
// multi_external_select's, or a single select's (a form drawn before the
// picker took several).
func pickedGroups(a slack.BlockAction) []string {
	var out []string
	for _, o := range a.SelectedOptions {
		out = append(out, o.Value)
	}
	if len(out) == 0 && a.SelectedOption.Value != "" {
		out = append(out, a.SelectedOption.Value)
	}
	return out
}

// formGroups names the groups picked, from the directory.
func (b *Bot) formGroups(ctx context.Context, jids []string) []templates.GroupOption {
	out := make([]templates.GroupOption, 0, len(jids))
	for _, jid := range jids {
		g := templates.GroupOption{JID: jid}
		if e, ok, err := b.formStore.DirectoryGroup(ctx, jid); err == nil && ok {
			g.Subject = e.Subject
		}
		out = append(out, g)
	}
	return out
}

// submitForm checks a submitted form with the command's own checks
// (record) and records the request, whose card the outbox posts in the
// form's channel. Problems are answered next to their field; a valid
// submission closes the form.
func (b *Bot) submitForm(ctx context.Context, ic slack.InteractionCallback) any {
	ctx, cancel := context.WithTimeout(ctx, ackBudget)
	defer cancel()
	if text := b.foreign(ic.Team.ID, ic.Enterprise.ID, ic.IsEnterpriseInstall); text != "" {
		return templates.FormErrors(map[string]string{templates.BlockGroup: plainOf(text)})
	}
	value := func(block string) slack.BlockAction {
		if ic.View.State == nil {
			return slack.BlockAction{}
		}
		for _, a := range ic.View.State.Values[block] {
			return a
		}
		return slack.BlockAction{}
	}
	channel := metaOf(ic.View).Channel
	chField := templates.BlockGroup
	if channel == "" {
		channel, chField = value(templates.BlockChannel).SelectedConversation, templates.BlockChannel
		if channel == "" {
			return templates.FormErrors(map[string]string{templates.BlockChannel: "Choose the channel where the card is posted."})
		}
	}
	switch b.mayRequest(ic.User.ID, channel) {
	case allowed:
	case notConfigured:
		return templates.FormErrors(map[string]string{chField: plainOf(templates.NotConfigured())})
	default:
		return templates.FormErrors(map[string]string{chField: plainOf(templates.NotAllowed())})
	}
	jids := pickedGroups(value(templates.BlockGroup))
	for _, jid := range jids {
		if !whatsapp.IsGroupJID(jid) {
			return templates.FormErrors(map[string]string{templates.BlockGroup: "Choose groups from the list."})
		}
	}
	if len(jids) == 0 {
		return templates.FormErrors(map[string]string{templates.BlockGroup: "Choose a group from the list."})
	}
	jid := jids[0]
	// The number field is there only when the bot serves several
	// numbers; without a choice the command's rule picks one.
	cmd := Command{Kind: CommandLeave, Group: GroupRef{JID: jid}, Goodbye: strings.TrimSpace(value(templates.BlockGoodbye).Value),
		From: value(templates.BlockNumber).SelectedOption.Value}
	if cmd.Goodbye == "" {
		cmd.NoGoodbye = true
	}
	if err := checkGoodbyeLen(cmd.Goodbye); err != nil {
		return templates.FormErrors(map[string]string{templates.BlockGoodbye: usageProblem(err)})
	}
	if at := value(templates.BlockWhen).SelectedDateTime; at != 0 {
		cmd.At = time.Unix(at, 0).UTC().Format(time.RFC3339)
	}
	sc := slack.SlashCommand{TeamID: ic.Team.ID, EnterpriseID: ic.Enterprise.ID, ChannelID: channel, UserID: ic.User.ID, UserName: ic.User.Name}
	if len(jids) > 1 {
		return b.submitBulk(ctx, sc, cmd, jids)
	}
	r, _, no := b.record(ctx, sc, cmd)
	if no != nil {
		if no.msg == nil {
			return nil
		}
		problem := no.problem
		if problem == "" {
			problem = plainOf(no.msg.Text)
		}
		return templates.FormErrors(map[string]string{no.field: problem})
	}
	if succ := value(templates.BlockSuccessor).SelectedOption.Value; succ != "" {
		// After the ack: the group's details may take a moment.
		b.afterAck(func(ctx context.Context) { b.formSuccessor(ctx, r, succ) })
	}
	return nil
}

// submitBulk records the bulk request of a form with several groups (SPEC
// §9), with the bulk command's checks; problems are shown next to their
// field.
func (b *Bot) submitBulk(ctx context.Context, sc slack.SlashCommand, cmd Command, jids []string) any {
	cmd.Kind, cmd.Group = CommandBulk, GroupRef{}
	for _, jid := range jids {
		cmd.List = append(cmd.List, GroupRef{JID: jid})
	}
	if r, bad := templates.UnsafeGoodbyeRune(cmd.Goodbye); bad {
		return templates.FormErrors(map[string]string{templates.BlockGoodbye: plainOf(templates.BadGoodbye(r))})
	}
	if msg := b.overLimit(ctx, sc, b.opts.Now()); msg != nil {
		return templates.FormErrors(map[string]string{templates.BlockGroup: plainOf(msg.Text)})
	}
	groups, msg := b.bulkList(ctx, cmd)
	if msg != nil {
		return templates.FormErrors(map[string]string{templates.BlockGroup: plainOf(msg.Text)})
	}
	_, _, _, no := b.recordBulk(ctx, sc, cmd, groups)
	if no != nil {
		if no.msg == nil {
			return nil
		}
		problem := no.problem
		if problem == "" {
			problem = plainOf(no.msg.Text)
		}
		return templates.FormErrors(map[string]string{no.field: problem})
	}
	return nil
}

// formSuccessor records the successor chosen in the form, with the group
// details the form was drawn from (so the choice is checked against the
// participants offered, as a choice on the card is). When they are gone
// from the cache, the card asks again.
func (b *Bot) formSuccessor(ctx context.Context, r *store.Request, jid string) {
	f := b.fetchGroup(b.num(r.Number), r.GroupJID, detailsTTL)
	if !f.wait(ctx, lookupTimeout) || f.err != nil {
		return
	}
	now := b.opts.Now()
	if _, err := b.formStore.SetDetails(ctx, r.ID, detailsOf(f.group, f.self), now); err != nil {
		b.log.Warn("form: store group details", "request", r.ID, "err", err)
		return
	}
	if _, err := b.formStore.SetSuccessor(ctx, r.ID, jid, r.RequesterID, now); err != nil {
		b.log.Warn("form: store successor", "request", r.ID, "err", err)
	}
	b.outbox.poke()
}

// formNumber is the number the form's request is for: the one chosen in
// it, or the only one; nil when there are several and none is chosen.
func (b *Bot) formNumber(ic slack.InteractionCallback) *number {
	if ic.View.State != nil {
		for _, a := range ic.View.State.Values[templates.BlockNumber] {
			if name := a.SelectedOption.Value; name != "" && slices.Contains(b.numberNames(), name) {
				return b.num(name)
			}
		}
	}
	if !b.several() {
		return b.numbers[0]
	}
	return nil
}

// plainOf turns a mrkdwn answer into text a form error shows as is.
func plainOf(mrkdwn string) string {
	return templates.Unescape(strings.NewReplacer("*", "", "`", "", "_", "").Replace(mrkdwn))
}
