package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/slack-go/slack"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// directoryStore is what the directory refresh and group picks need of the store.
type directoryStore interface {
	ListRequests(ctx context.Context, f store.Filter) ([]*store.Request, error)
	NumberDirectoryRefreshed(ctx context.Context, number string) (time.Time, error)
	NumbersDirectory(ctx context.Context, numbers ...string) ([]store.DirectoryEntry, error)
	ReplaceNumberDirectory(ctx context.Context, number string, entries []store.DirectoryEntry, now time.Time) error
	SavePick(ctx context.Context, p store.Pick) error
}

const (
	// directoryMinGap is the least time between two on-demand directory
	// refreshes. Listing groups is one of the gateways' slow, tightly
	// limited calls (Green API: 1/s), and a name that matches nothing
	// would otherwise trigger a listing per command.
	directoryMinGap = 30 * time.Second
	// pickTTL is how long the candidates offered for an ambiguous name
	// can be picked from.
	pickTTL = 15 * time.Minute
	// maxPickCandidates bounds what a pick row stores; the message shows
	// fewer (templates.PickGroupBlocks).
	maxPickCandidates = 100
	// groupsListBudget keeps /wa-leave groups inside one section's 3000
	// characters, with room for the header and the count of the rest.
	groupsListBudget = 2600
	// maxClosest is how many near names a "no such group" answer offers.
	maxClosest = 5
)

// errRefreshedRecently means an on-demand refresh was skipped because one
// ran less than directoryMinGap ago: the directory is as fresh as the
// rate limit allows.
var errRefreshedRecently = errors.New("directory refreshed recently")

// directory coordinates refreshes of the stored group directory: one
// listing at a time, whoever asks (the periodic job, a command), and
// on-demand ones at most every directoryMinGap.
type directory struct {
	mu       sync.Mutex
	inflight chan struct{} // closed when the running refresh ends; nil when none
	err      error         // the last refresh's result
	last     time.Time     // when the last refresh started
}

// directoryArgs is the periodic job that refreshes the group directory.
type directoryArgs struct{}

// Kind names the job in River's table.
func (directoryArgs) Kind() string { return "directory" }

type directoryWorker struct {
	river.WorkerDefaults[directoryArgs]
	b *Bot
}

// Work refreshes the directory; River retries a failed refresh.
func (w *directoryWorker) Work(ctx context.Context, _ *river.Job[directoryArgs]) error {
	return w.b.RefreshDirectory(ctx)
}

// directoryJob is the periodic refresh, also run at start so names
// resolve from the first command after a deploy.
func (b *Bot) directoryJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(b.opts.DirectoryEvery), func() (river.JobArgs, *river.InsertOpts) {
		return directoryArgs{}, &river.InsertOpts{MaxAttempts: 3}
	}, &river.PeriodicJobOpts{RunOnStart: true})
}

// RefreshDirectory lists each number's groups into the directory (or
// waits for the listings already under way). A failed listing leaves
// that number's previous directory as it was.
func (b *Bot) RefreshDirectory(ctx context.Context) error {
	errs := make([]error, len(b.numbers))
	var wg sync.WaitGroup
	for i, n := range b.numbers {
		wg.Go(func() { errs[i] = b.refreshDirectory(ctx, n, true) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// refreshDirectories refreshes the directories of ns at once, as
// refreshDirectory does one: nil when any listing succeeded (the
// directory has news), else errRefreshedRecently when one was skipped,
// else the first error.
func (b *Bot) refreshDirectories(ctx context.Context, ns []*number) error {
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Go(func() { errs[i] = b.refreshDirectory(ctx, n, false) })
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errRefreshedRecently):
			first = err
		case first == nil:
			first = err
		}
	}
	return first
}

// refreshDirectory runs a listing or joins the running one; unless force,
// one that started less than directoryMinGap ago is not repeated
// (errRefreshedRecently). The listing runs under the bot's lifetime, not
// ctx: a command that stops waiting at its lookup timeout still gets the
// directory filled for its next try.
func (b *Bot) refreshDirectory(ctx context.Context, n *number, force bool) error {
	d := &n.dir
	d.mu.Lock()
	if d.inflight == nil {
		now := b.opts.Now()
		if !force && !d.last.IsZero() && now.Sub(d.last) < directoryMinGap {
			d.mu.Unlock()
			return errRefreshedRecently
		}
		done := make(chan struct{})
		d.inflight, d.last = done, now
		b.background.Add(1)
		go func() {
			defer b.background.Done()
			err := b.listGroups(n)
			d.mu.Lock()
			d.err, d.inflight = err, nil
			d.mu.Unlock()
			close(done)
		}()
	}
	done := d.inflight
	d.mu.Unlock()
	select {
	case <-done:
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listGroups asks the number's gateway for its group list and stores it.
func (b *Bot) listGroups(n *number) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.GatewayTimeout)
	defer cancel()
	groups, err := n.Gateway.Groups(ctx)
	b.countGateway(n, "groups", err)
	if err != nil {
		b.log.Warn("group directory refresh failed; keeping the previous directory", "number", n.Name, "err", err)
		return fmt.Errorf("list groups: %w", err)
	}
	entries := make([]store.DirectoryEntry, 0, len(groups))
	for _, g := range groups {
		if whatsapp.IsGroupJID(g.JID) {
			entries = append(entries, store.DirectoryEntry{JID: g.JID, Subject: strings.TrimSpace(g.Subject)})
		}
	}
	if err := b.directoryStore.ReplaceNumberDirectory(ctx, n.Name, entries, b.opts.Now()); err != nil {
		return err
	}
	b.log.Info("group directory refreshed", "number", n.Name, "groups", len(entries))
	return nil
}

// summaries adapts directory entries for matchGroups.
// A group two numbers are in is one group: listed once.
func summaries(entries []store.DirectoryEntry) []whatsapp.GroupSummary {
	out := make([]whatsapp.GroupSummary, 0, len(entries))
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !seen[e.JID] {
			seen[e.JID] = true
			out = append(out, whatsapp.GroupSummary{JID: e.JID, Subject: e.Subject})
		}
	}
	return out
}

// resolveName resolves a group name against the directory: one match
// fills in the request, several are offered as buttons (the command is
// kept until one is clicked), none gets the closest names. A name not in
// the directory triggers a refresh, waited for at most lookupTimeout.
func (b *Bot) resolveName(ctx context.Context, sc slack.SlashCommand, cmd Command, r *store.Request) *slack.Msg {
	name := cmd.Group.Name
	ns := b.fromNumbers(cmd)
	entries, err := b.directoryOf(ctx, ns)
	if err != nil {
		b.log.Error("read directory", "err", err)
		return ephemeralMsg(templates.Internal())
	}
	matches := matchGroups(summaries(entries), name)
	if len(matches) == 0 {
		rctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		err := b.refreshDirectories(rctx, ns)
		cancel()
		switch {
		case err == nil:
			if entries, err = b.directoryOf(ctx, ns); err != nil {
				b.log.Error("read directory", "err", err)
				return ephemeralMsg(templates.Internal())
			}
			matches = matchGroups(summaries(entries), name)
		case errors.Is(err, errRefreshedRecently):
		case len(entries) == 0:
			b.log.Info("group list unavailable", "err", err)
			return ephemeralMsg(templates.BadCommand("the group list is unavailable right now; use the group's id (…@g.us) instead"))
		}
	}
	switch len(matches) {
	case 0:
		problem := fmt.Sprintf("no group is called %q", name)
		if near := closest(entries, name, maxClosest); len(near) > 0 {
			problem += "; did you mean " + joinOr(near) + "?"
		} else {
			problem += "; /wa-leave groups lists the groups"
		}
		return ephemeralMsg(templates.BadCommand(problem))
	case 1:
		r.GroupJID, r.GroupSubject = matches[0].JID, matches[0].Subject
		return nil
	}
	return b.offerPick(ctx, sc, cmd, matches)
}

// pickCommand is what an ambiguous command leaves for the click that
// picks its group: everything needed to record the request as the
// command would have.
type pickCommand struct {
	TeamID      string        `json:"team_id,omitempty"`
	UserName    string        `json:"user_name,omitempty"`
	ResponseURL string        `json:"response_url,omitempty"`
	Goodbye     string        `json:"goodbye,omitempty"`
	NoGoodbye   bool          `json:"no_goodbye,omitempty"`
	At          string        `json:"at,omitempty"`
	In          time.Duration `json:"in,omitempty"`
	From        string        `json:"from,omitempty"`
}

// offerPick keeps the command and answers with a button per candidate.
// The goodbye and flags stay in the store rather than in the buttons: a
// goodbye may be longer than a button value may, and the value is the
// candidate's JID by contract.
func (b *Bot) offerPick(ctx context.Context, sc slack.SlashCommand, cmd Command, matches []whatsapp.GroupSummary) *slack.Msg {
	pc, err := json.Marshal(pickCommand{
		TeamID: sc.TeamID, UserName: sc.UserName, ResponseURL: sc.ResponseURL,
		Goodbye: cmd.Goodbye, NoGoodbye: cmd.NoGoodbye, At: cmd.At, In: cmd.In, From: cmd.From,
	})
	if err != nil {
		b.log.Error("encode pick", "err", err)
		return ephemeralMsg(templates.Internal())
	}
	candidates := make([]templates.Candidate, len(matches))
	jids := make([]string, 0, min(len(matches), maxPickCandidates))
	for i, g := range matches {
		candidates[i] = templates.Candidate{JID: g.JID, Subject: g.Subject}
		if len(jids) < maxPickCandidates {
			jids = append(jids, g.JID)
		}
	}
	err = b.directoryStore.SavePick(ctx, store.Pick{UserID: sc.UserID, ChannelID: sc.ChannelID, Command: string(pc), Candidates: jids, CreatedAt: b.opts.Now()})
	if err != nil {
		b.log.Error("save pick", "err", err)
		return ephemeralMsg(templates.Internal())
	}
	b.metrics.commands.WithLabelValues("ambiguous").Inc()
	msg := ephemeralMsg(templates.PickGroupText(cmd.Group.Name, len(matches)))
	msg.Blocks = slack.Blocks{BlockSet: templates.PickGroupBlocks(cmd.Group.Name, candidates)}
	return msg
}

// replacePicker answers a pick in place of the candidate list, so the
// buttons cannot be clicked again; without a response_url it answers
// ephemerally.
func (b *Bot) replacePicker(ic slack.InteractionCallback, text string) {
	if ic.ResponseURL == "" {
		b.ephemeral(&ic, text)
		return
	}
	b.afterAck(func(ctx context.Context) {
		err := postResponse(ctx, ic.ResponseURL, &slack.WebhookMessage{
			ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: true, Text: text,
		})
		if err != nil {
			b.log.Warn("could not replace the group list", "err", err)
		}
	})
}

// groups lists the directory, optionally filtered the way names are
// matched, within one message's limits: what does not fit is counted.
// With several numbers each has its own section, headed by its name.
func (b *Bot) groups(ctx context.Context, filter string) *slack.Msg {
	filter = strings.TrimSpace(strings.Trim(filter, `"'“”‘’„‚`))
	if !b.several() {
		text, ok := b.groupsSection(ctx, b.numbers[0], filter, groupsListBudget)
		if !ok {
			return ephemeralMsg(templates.Internal())
		}
		return ephemeralMsg(text)
	}
	var sections []string
	for _, n := range b.numbers {
		text, ok := b.groupsSection(ctx, n, filter, groupsListBudget/len(b.numbers))
		if !ok {
			return ephemeralMsg(templates.Internal())
		}
		sections = append(sections, templates.NumberSection(n.Name, text))
	}
	return ephemeralMsg(strings.Join(sections, "\n"))
}

// groupsSection is one number's part of /wa-leave groups, its list kept
// within budget characters; ok is false when the directory could not be
// read (the answer is then the internal-error text).
func (b *Bot) groupsSection(ctx context.Context, n *number, filter string, budget int) (text string, ok bool) {
	refreshed, err := b.directoryStore.NumberDirectoryRefreshed(ctx, n.Name)
	if err != nil {
		b.log.Error("read directory", "err", err)
		return "", false
	}
	if refreshed.IsZero() {
		// Never listed yet (a fresh install): try once, briefly.
		rctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		err := b.refreshDirectory(rctx, n, false)
		cancel()
		if err != nil && !errors.Is(err, errRefreshedRecently) {
			b.log.Info("group list unavailable", "number", n.Name, "err", err)
			return "The group list is unavailable right now; try again in a minute.", true
		}
		refreshed, _ = b.directoryStore.NumberDirectoryRefreshed(ctx, n.Name)
	}
	entries, err := b.directoryStore.NumbersDirectory(ctx, n.Name)
	if err != nil {
		b.log.Error("read directory", "err", err)
		return "", false
	}
	gs := summaries(entries)
	if filter != "" {
		gs = matchGroups(gs, filter)
	}
	if len(gs) == 0 {
		if filter == "" {
			return "The instance is in no groups, as of the last listing.", true
		}
		text := fmt.Sprintf("No group matches “%s”.", templates.Escape(filter))
		if near := closest(entries, filter, maxClosest); len(near) > 0 {
			text += " Did you mean " + templates.Escape(joinOr(near)) + "?"
		}
		return text, true
	}
	var sb strings.Builder
	switch {
	case filter != "" && len(gs) == 1:
		fmt.Fprintf(&sb, "*1 group matches “%s”*", templates.Escape(truncate(filter, 100)))
	case filter != "":
		fmt.Fprintf(&sb, "*%d groups match “%s”*", len(gs), templates.Escape(truncate(filter, 100)))
	case len(gs) == 1:
		sb.WriteString("*The instance is in 1 group*")
	default:
		fmt.Fprintf(&sb, "*The instance is in %d groups*", len(gs))
	}
	if !refreshed.IsZero() {
		fmt.Fprintf(&sb, " (listed %s ago)", roundAge(b.opts.Now().Sub(refreshed)))
	}
	sb.WriteString("\n")
	shown := 0
	for _, g := range gs {
		subject := g.Subject
		if subject == "" {
			subject = "(no name)"
		}
		line := fmt.Sprintf("• %s `%s`\n", templates.Escape(truncate(subject, 100)), g.JID)
		if utf8.RuneCountInString(sb.String())+utf8.RuneCountInString(line) > budget {
			break
		}
		sb.WriteString(line)
		shown++
	}
	if more := len(gs) - shown; more > 0 {
		fmt.Fprintf(&sb, "…and %d more; add a filter to narrow the list (`/wa-leave groups <name>`).\n", more)
	}
	return sb.String(), true
}

// closest returns up to n subjects nearest to name, nearest first: those
// containing it with few typos (an edit distance against the best part of
// the subject, at most a third of the name's length). It is for "did you
// mean", so nothing far off is offered.
func closest(entries []store.DirectoryEntry, name string, n int) []string {
	pattern := []rune(strings.ToLower(name))
	if len(pattern) == 0 {
		return nil
	}
	// Long inputs make the distance table large and are never typos of a
	// short name anyway.
	pattern = pattern[:min(len(pattern), 100)]
	limit := max(1, len(pattern)/3)
	type scored struct {
		subject string
		dist    int
	}
	var near []scored
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Subject == "" || seen[e.Subject] {
			continue
		}
		text := []rune(strings.ToLower(e.Subject))
		text = text[:min(len(text), 200)]
		if d := substringDistance(pattern, text); d <= limit {
			seen[e.Subject] = true
			near = append(near, scored{e.Subject, d})
		}
	}
	sort.SliceStable(near, func(i, j int) bool { return near[i].dist < near[j].dist })
	var out []string
	for _, s := range near[:min(len(near), n)] {
		out = append(out, fmt.Sprintf("%q", s.subject))
	}
	return out
}

// joinOr lists alternatives: "a", "a or b", "a, b or c".
func joinOr(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// substringDistance is the fewest single-character edits that turn
// pattern into some part of text (Sellers' algorithm: the edit distance
// with free skipping of text before and after the match).
func substringDistance(pattern, text []rune) int {
	prev := make([]int, len(text)+1) // row 0: matching may start anywhere
	cur := make([]int, len(text)+1)
	for i := 1; i <= len(pattern); i++ {
		cur[0] = i
		for j := 1; j <= len(text); j++ {
			cost := 1
			if pattern[i-1] == text[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j-1]+cost, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	best := prev[0]
	for _, v := range prev {
		best = min(best, v)
	}
	return best
}

// statusGroup finds the group a /wa-leave status argument names: a group
// in the directory, or, since a group that was left drops out of it, one
// that recent requests name. It returns "" unless exactly one group fits.
func (b *Bot) statusGroup(ctx context.Context, name string) string {
	if entries, err := b.directoryOf(ctx, b.numbers); err == nil {
		if m := matchGroups(summaries(entries), name); len(m) == 1 {
			return m[0].JID
		}
	}
	recent, err := b.directoryStore.ListRequests(ctx, store.Filter{Limit: 500})
	if err != nil {
		return ""
	}
	seen := map[string]bool{}
	var named []whatsapp.GroupSummary
	for _, r := range recent {
		if r.GroupSubject != "" && !seen[r.GroupJID] {
			seen[r.GroupJID] = true
			named = append(named, whatsapp.GroupSummary{JID: r.GroupJID, Subject: r.GroupSubject})
		}
	}
	if m := matchGroups(named, name); len(m) == 1 {
		return m[0].JID
	}
	return ""
}

// keptInviteLink is the newest invite link kept by requests that are all
// for one group ("" when they are for several, or none kept one), which
// is what /wa-leave status shows for a group.
func keptInviteLink(reqs []*store.Request) string {
	for _, r := range reqs {
		if r.GroupJID != reqs[0].GroupJID {
			return ""
		}
	}
	for _, r := range reqs {
		if r.InviteLink != "" {
			return r.InviteLink
		}
	}
	return ""
}
