package bot

import (
	"context"
	"slices"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// numbersStore is what choosing a request's number needs of the store.
type numbersStore interface {
	NumberDirectoryGroup(ctx context.Context, number, jid string) (e store.DirectoryEntry, ok bool, err error)
	NumbersDirectory(ctx context.Context, numbers ...string) ([]store.DirectoryEntry, error)
}

// Number is one WhatsApp number the bot serves: its gateway, and the
// allow-lists that narrow the global ones for its requests.
type Number struct {
	// Name is how commands (--from), cards and the audit name it; it is
	// stored with every request, so it must not change.
	Name    string
	Gateway whatsapp.Gateway
	// AllowedUsers and AllowedChannels, when either is set, narrow who
	// may request and confirm with this number: the global allow-lists
	// must allow it too, so they never widen them.
	AllowedUsers    []string
	AllowedChannels []string
}

// number is a served number with its own state: the directory refresh
// it coordinates and the group answers it caches (another number's
// answers about the same group are about another member).
type number struct {
	Number
	dryRun    bool
	dir       directory
	groupInfo *groupCache
	// lists shares group-list calls among bulk requests' verifications.
	lists *groupLists
	// bulk bounds the bulk requests' groups worked on at once.
	bulk *bulkTurns
}

func newNumber(n Number) *number {
	return &number{Number: n, dryRun: n.Gateway.DryRun(), groupInfo: &groupCache{fetches: map[string]*groupFetch{}}, lists: &groupLists{}, bulk: &bulkTurns{}}
}

// several reports whether the bot serves more than one number; only then
// do cards, replies and lists name the number.
func (b *Bot) several() bool { return len(b.numbers) > 1 }

// numberNames are the served numbers' names, in configuration order.
func (b *Bot) numberNames() []string {
	names := make([]string, len(b.numbers))
	for i, n := range b.numbers {
		names[i] = n.Name
	}
	return names
}

// num returns the served number called name. A request made under a
// number that is no longer configured gets a stand-in whose gateway
// refuses every call, so nothing is done with another number's account.
func (b *Bot) num(name string) *number {
	if name == "" {
		name = store.DefaultNumber
	}
	for _, n := range b.numbers {
		if n.Name == name {
			return n
		}
	}
	return newNumber(Number{Name: name, Gateway: unconfigured{}})
}

// shownNumber is the number's name as cards and replies show it: empty
// (not shown) when the bot serves one number, as before there could be
// several.
func (b *Bot) shownNumber(name string) string {
	if !b.several() {
		return ""
	}
	if name == "" {
		return store.DefaultNumber
	}
	return name
}

// sayAbout is text as the bot posts it about r: with the dry run's
// note when r's number sends nothing, and naming r's number when the bot
// has several.
func (b *Bot) sayAbout(r *store.Request, text string) string {
	if name := b.shownNumber(r.Number); name != "" {
		text += "\n" + templates.FromNumber(name)
	}
	if b.num(r.Number).dryRun {
		return templates.DryRun(text)
	}
	return text
}

// narrowed reports whether any number has allow-lists of its own.
func (b *Bot) narrowed() bool {
	for _, n := range b.numbers {
		if len(n.AllowedUsers) > 0 || len(n.AllowedChannels) > 0 {
			return true
		}
	}
	return false
}

// narrows reports whether the number's own allow-lists let user, in
// channel, use it; with neither set it does not narrow anything.
func (n *number) narrows(user, channel string) bool {
	if len(n.AllowedUsers) == 0 && len(n.AllowedChannels) == 0 {
		return true
	}
	return slices.Contains(n.AllowedUsers, user) || slices.Contains(n.AllowedChannels, channel)
}

// unconfigured is the gateway of a number no longer in the
// configuration: every call fails as a configuration error.
type unconfigured struct{}

func (unconfigured) err() error {
	return &whatsapp.Error{Kind: whatsapp.ErrInvalid, Op: "number", Message: "this WhatsApp number is no longer configured"}
}
func (u unconfigured) Leave(context.Context, string) (whatsapp.LeaveResult, error) {
	return whatsapp.LeaveResult{}, u.err()
}
func (u unconfigured) SendText(context.Context, string, string) (string, error) { return "", u.err() }
func (u unconfigured) Group(context.Context, string) (whatsapp.Group, error) {
	return whatsapp.Group{}, u.err()
}
func (u unconfigured) Groups(context.Context) ([]whatsapp.GroupSummary, error) { return nil, u.err() }
func (u unconfigured) Promote(context.Context, string, string) error           { return u.err() }
func (u unconfigured) State(context.Context) (whatsapp.State, error) {
	return whatsapp.State{}, u.err()
}
func (u unconfigured) Me(context.Context) (string, error) { return "", u.err() }
func (u unconfigured) InviteLink(context.Context, whatsapp.Group) (string, error) {
	return "", u.err()
}
func (u unconfigured) LastActivity(context.Context, string) (time.Time, error) {
	return time.Time{}, u.err()
}
func (unconfigured) DryRun() bool { return false }

// fromNumbers are the numbers whose groups a command's group name is
// looked up among: --from's, or every served number's. An unknown
// --from is answered by chooseNumber; here it narrows to nothing.
func (b *Bot) fromNumbers(cmd Command) []*number {
	if cmd.From == "" {
		return b.numbers
	}
	for _, n := range b.numbers {
		if n.Name == cmd.From {
			return []*number{n}
		}
	}
	return nil
}

// directoryOf reads the directory entries of ns.
func (b *Bot) directoryOf(ctx context.Context, ns []*number) ([]store.DirectoryEntry, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.Name
	}
	return b.numbersStore.NumbersDirectory(ctx, names...)
}

// numbersIn are the served numbers the directory shows in the group.
func (b *Bot) numbersIn(ctx context.Context, jid string) ([]string, error) {
	var in []string
	for _, n := range b.numbers {
		_, ok, err := b.numbersStore.NumberDirectoryGroup(ctx, n.Name, jid)
		if err != nil {
			return nil, err
		}
		if ok {
			in = append(in, n.Name)
		}
	}
	return in, nil
}

// chooseNumber sets the number that leaves r's group: --from's; the one
// number when there is one (as before there could be several); else the
// one number the directory shows in the group. When several are in it
// the author is asked to choose, and when none is the directories are
// refreshed once before saying so: it returns that answer instead.
func (b *Bot) chooseNumber(ctx context.Context, cmd Command, r *store.Request) *slack.Msg {
	if cmd.From != "" {
		if ns := b.fromNumbers(cmd); len(ns) == 1 {
			r.Number = ns[0].Name
			return nil
		}
		return ephemeralMsg(templates.BadCommand(templates.UnknownNumber(cmd.From, b.numberNames())))
	}
	if !b.several() {
		r.Number = b.numbers[0].Name
		return nil
	}
	in, err := b.numbersIn(ctx, r.GroupJID)
	if err == nil && len(in) == 0 {
		rctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		if b.refreshDirectories(rctx, b.numbers) == nil {
			in, err = b.numbersIn(ctx, r.GroupJID)
		}
		cancel()
	}
	if err != nil {
		b.log.Error("read directory", "err", err)
		return ephemeralMsg(templates.Internal())
	}
	switch len(in) {
	case 1:
		r.Number = in[0]
		return nil
	case 0:
		b.metrics.commands.WithLabelValues("no_number").Inc()
		return ephemeralMsg(templates.NoNumberInGroup(b.numberNames()))
	}
	b.metrics.commands.WithLabelValues("which_number").Inc()
	return ephemeralMsg(templates.WhichNumber(in))
}
