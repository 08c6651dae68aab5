package bot

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/waleave/waleave/whatsapp"
)

// CommandKind says which form of /wa-leave was used.
type CommandKind int

// The forms of /wa-leave (SPEC §4). The zero value is no command, so a
// Command left unset is never mistaken for one.
const (
	CommandLeave CommandKind = iota + 1
	CommandStatus
	CommandGroups
	CommandHelp
	CommandHistory
	// CommandBulk: /wa-leave bulk, many groups in one request (SPEC §9).
	CommandBulk
)

// MaxGoodbyeLen is the longest goodbye accepted, in characters (runes). It
// keeps the confirmation card, which quotes the goodbye, well inside Block
// Kit's 3000-character section limit, and a goodbye is a line or two anyway.
const MaxGoodbyeLen = 1000

// maxAhead is how far ahead a leave may be scheduled. It matches Slack's own
// chat.scheduleMessage horizon, and a request further out is more likely a
// typo than a plan.
const maxAhead = 120 * 24 * time.Hour

// GroupRef is the <group> argument as the user wrote it. Exactly one field is
// set; resolving it to a group is the caller's job, since names and invite
// codes need the gateway.
type GroupRef struct {
	JID        string // set when the argument is a group JID
	InviteCode string // set when it is an invite link or code
	Name       string // set when it is a group name (quoted or a single word)
}

// Command is a parsed /wa-leave.
type Command struct {
	Kind      CommandKind
	Group     GroupRef      // CommandLeave
	Goodbye   string        // CommandLeave: text after the group that is not a flag ("" = none given)
	NoGoodbye bool          // --no-goodbye
	At        string        // raw --at value ("" = none); resolved later with ResolveAt
	In        time.Duration // --in value (0 = none)
	Arg       string        // CommandStatus / CommandGroups argument (may be ""); CommandHistory's group (never "")
	From      string        // --from: the WhatsApp number that leaves ("" = the one in the group)

	// CommandBulk: which groups. Exactly one of Filter (every group whose
	// name contains it), List (--list) or Stale (--stale, with Filter
	// optional) says.
	Filter string
	List   []GroupRef
	Stale  time.Duration // --stale: no message for this long (0 = not given)
}

// maxStale is the longest --stale age accepted: WhatsApp itself is not
// much older, so a longer one is a typo.
const maxStale = 20 * 365 * 24 * time.Hour

// UsageError is a bad-input error whose Problem is safe to show to the user
// (plain text). It never wraps another error, so nothing internal can leak
// through it.
type UsageError struct{ Problem string }

// Error returns the problem.
func (e *UsageError) Error() string { return e.Problem }

func usagef(format string, args ...any) error {
	return &UsageError{Problem: fmt.Sprintf(format, args...)}
}

// ParseCommand parses the text of a /wa-leave command (everything after the
// command word, as Slack sends it). Errors are *UsageError.
//
// Grammar decisions beyond SPEC §4:
//   - Words are split on white space; "…", '…', “…” and ‘…’ group words into
//     one argument. A quote only closes before white space or the end, so
//     apostrophes inside a quoted name ('Bob's team') are kept. An opening
//     quote that never closes is an ordinary character, except around the
//     group, where it is reported.
//   - Slack's escaping is undone first: <url|label> and <url> become the
//     label (when it only shows the URL) or the URL, then &amp; &lt; &gt;
//     become & < >. Invalid UTF-8 becomes U+FFFD.
//   - Empty text is an error ("no group given") rather than help: SPEC lists
//     "no group" as bad input, and the reply shows the usage anyway.
//   - help, status, groups and history are recognised in any case when unquoted, and
//     help ignores anything after it. A group called "status" must be quoted.
//     history needs its group (a JID or a name, resolved later).
//   - <group> is a JID if it ends in @g.us (a malformed one is an error, as is
//     a person's JID); an invite code if it is a chat.whatsapp.com link (the
//     scheme may be left out) or a bare word of 20–24 letters and digits with
//     at least one digit, one upper- and one lower-case letter — real codes are
//     22 random base62 characters, and the mix keeps names such as
//     "marketing2024" or "PhoenixOperationsTeam" out; a name must be quoted to
//     escape the rule. Any other URL is an error. Everything else, and every
//     quoted argument, is a Name.
//   - Flags (--no-goodbye, --at, --in; also written --flag=value, and with the
//     em or en dash that autocorrect makes of "--") may come anywhere after the
//     group. Any other unquoted word starting with "--" and a letter is an
//     unknown flag; quote goodbye text that needs one.
//   - The goodbye is the text between the flags, as typed (line breaks and
//     spacing kept), pieces joined by one space. A goodbye that is one quoted
//     argument loses its quotes.
//   - An --at value of a date followed by a time word ("2026-12-01 09:00") is
//     joined into one value; its syntax is checked here (in UTC), the zone is
//     applied later by ResolveAt.
func ParseCommand(text string) (Command, error) {
	text = normalize(text)
	toks := tokenize(text)
	if len(toks) == 0 {
		return Command{}, usagef("no group given")
	}
	first := toks[0]
	if !first.quoted {
		switch strings.ToLower(first.text) {
		case "help":
			return Command{Kind: CommandHelp}, nil
		case "status":
			return Command{Kind: CommandStatus, Arg: rest(text, toks[1:])}, nil
		case "groups":
			return Command{Kind: CommandGroups, Arg: rest(text, toks[1:])}, nil
		case "history":
			arg := rest(text, toks[1:])
			if arg == "" {
				return Command{}, usagef("history needs a group: its id (…@g.us) or its name")
			}
			return Command{Kind: CommandHistory, Arg: arg}, nil
		case "bulk":
			return parseBulk(text, toks[1:])
		}
	}
	if first.unclosed {
		return Command{}, usagef("the group name %s has no closing quote", first.text)
	}
	if _, _, ok := flagOf(first); ok {
		return Command{}, usagef("no group given before %s", first.text)
	}
	group, err := parseGroup(first)
	if err != nil {
		return Command{}, err
	}
	cmd := Command{Kind: CommandLeave, Group: group}
	if err := parseTail(&cmd, text, toks[1:]); err != nil {
		return Command{}, err
	}
	return cmd, nil
}

// parseBulk parses the words after "bulk": which groups (a filter, --list
// or --stale), then the same flags and goodbye as a leave. Grammar
// decisions beyond SPEC §4:
//   - The filter is the first word (or quoted phrase) that is not a flag or
//     a flag's value; with --list there is none, and every word is goodbye;
//     with --stale it is optional, so a goodbye after --stale without a
//     filter must come after a quoted filter ("" is refused).
//   - --list takes one argument, split at commas; "a, b, c" (spaces after
//     the commas) also works, and an entry may be quoted inside it
//     (--list "Sales team","Ops"). Each entry is read as <group> is (a JID,
//     an invite link or code, or a name); empty entries are refused.
//   - --stale takes an age in w, d or h ("180d", "26w"), more than zero and
//     at most 20 years.
func parseBulk(text string, toks []token) (Command, error) {
	cmd := Command{Kind: CommandBulk}
	if err := parseTail(&cmd, text, toks); err != nil {
		return Command{}, err
	}
	switch {
	case cmd.Filter == "" && len(cmd.List) == 0 && cmd.Stale == 0:
		return Command{}, usagef("bulk needs a filter (part of the groups' names), --list or --stale")
	case len(cmd.List) > 0 && cmd.Stale != 0:
		return Command{}, usagef("use either --list or --stale, not both")
	}
	return cmd, nil
}

// parseList reads --list's value: entries split at commas, each a group
// reference.
func parseList(value string) ([]GroupRef, error) {
	var refs []GroupRef
	for _, piece := range strings.Split(value, ",") {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			return nil, usagef("--list has an empty entry; separate the groups with single commas")
		}
		// Quotes around an entry make it a name; the tokenizer leaves
		// those of "a","b" at the ends of the pieces.
		t := token{text: strings.TrimFunc(piece, isQuote)}
		t.quoted = t.text != piece
		ref, err := parseGroup(t)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// openQuote reports whether s has a double quote (straight or curly)
// that is not closed: an odd number of them. Apostrophes do not count, as
// names have them.
func openQuote(s string) bool {
	n := 0
	for _, r := range s {
		if f, ok := quoteFamily(r); ok && f == 0 {
			n++
		}
	}
	return n%2 == 1
}

func isQuote(r rune) bool {
	_, ok := quoteFamily(r)
	return ok
}

// ParseAge parses --stale's age: number-and-unit pairs with units w, d and
// h ("180d", "26w", "1w3d"), more than zero and at most 20 years. Errors
// are *UsageError.
func ParseAge(s string) (time.Duration, error) {
	return parseUnits(s, unitsSpec{
		bad:     fmt.Sprintf("%q is not an age; write it like 180d, 26w or 90d", s),
		minUnit: time.Hour,
		max:     maxStale, tooBig: fmt.Sprintf("%s is too long ago; the limit is 20 years", s),
		flag: "--stale",
	})
}

// unitsSpec is what a number-and-unit duration may be, and what is said
// when it is not.
type unitsSpec struct {
	bad     string        // not a duration at all
	minUnit time.Duration // the smallest unit allowed
	max     time.Duration
	tooBig  string // over max
	flag    string // named when the total is zero
}

// parseUnits parses one or more number-and-unit pairs (inUnits), for
// --in and --stale. Errors are *UsageError.
func parseUnits(s string, spec unitsSpec) (time.Duration, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return 0, usagef("%s", spec.bad)
	}
	var total time.Duration
	for in != "" {
		n := 0
		for n < len(in) && in[n] >= '0' && in[n] <= '9' {
			n++
		}
		if n == 0 || n == len(in) {
			return 0, usagef("%s", spec.bad)
		}
		unit, ok := inUnits[in[n]]
		if !ok || unit < spec.minUnit {
			return 0, usagef("%s", spec.bad)
		}
		v, err := strconv.ParseInt(in[:n], 10, 64)
		// Checking against max before multiplying keeps huge inputs from
		// overflowing into a plausible duration.
		if err != nil || v > int64(spec.max/unit) {
			return 0, usagef("%s", spec.tooBig)
		}
		total += time.Duration(v) * unit
		if total > spec.max {
			return 0, usagef("%s", spec.tooBig)
		}
		in = in[n+1:]
	}
	if total <= 0 {
		return 0, usagef("%s must be more than zero", spec.flag)
	}
	return total, nil
}

// parseTail fills in the flags and goodbye of a leave command from the words
// after the group; for bulk (cmd.Kind CommandBulk) also --list, --stale and
// the filter.
func parseTail(cmd *Command, text string, toks []token) error {
	bulk := cmd.Kind == CommandBulk
	filterTaken := false
	var (
		runs [][]token // goodbye words, split where flags interrupt them
		run  []token
	)
	endRun := func() {
		if len(run) > 0 {
			runs = append(runs, run)
			run = nil
		}
	}
	for i := 0; i < len(toks); i++ {
		name, value, ok := flagOf(toks[i])
		if !ok {
			if bulk && !filterTaken && len(cmd.List) == 0 && len(runs) == 0 && len(run) == 0 {
				// The first word is the filter.
				filterTaken = true
				cmd.Filter = strings.TrimSpace(toks[i].text)
				if cmd.Filter == "" {
					return usagef("the filter is empty")
				}
				continue
			}
			run = append(run, toks[i])
			continue
		}
		endRun()
		// takeValue consumes the flag's value: the part after "=", or the
		// next word unless that is itself a flag.
		takeValue := func() (string, bool) {
			if value != nil {
				return *value, *value != ""
			}
			if i+1 >= len(toks) {
				return "", false
			}
			if _, _, isFlag := flagOf(toks[i+1]); isFlag {
				return "", false
			}
			i++
			return toks[i].text, true
		}
		switch name {
		case "no-goodbye":
			if value != nil {
				return usagef("--no-goodbye takes no value")
			}
			cmd.NoGoodbye = true
		case "at":
			if cmd.At != "" {
				return usagef("--at is given twice")
			}
			v, ok := takeValue()
			if !ok {
				return usagef("--at needs a date and time, e.g. --at 2026-12-01T09:00")
			}
			if datePattern.MatchString(v) && i+1 < len(toks) && !toks[i+1].quoted && clockPattern.MatchString(toks[i+1].text) {
				i++
				v += " " + toks[i].text
			}
			if _, err := ResolveAt(v, time.UTC); err != nil {
				return err
			}
			cmd.At = v
		case "in":
			if cmd.In != 0 {
				return usagef("--in is given twice")
			}
			v, ok := takeValue()
			if !ok {
				return usagef("--in needs a duration, e.g. --in 3d")
			}
			d, err := ParseIn(v)
			if err != nil {
				return err
			}
			cmd.In = d
		case "from":
			if cmd.From != "" {
				return usagef("--from is given twice")
			}
			v, ok := takeValue()
			if !ok {
				return usagef("--from needs the name of a WhatsApp number, e.g. --from sales")
			}
			cmd.From = strings.ToLower(v)
		case "list":
			if !bulk {
				return usagef("--list belongs to /wa-leave bulk: /wa-leave bulk --list <group>,<group>,…")
			}
			if len(cmd.List) > 0 {
				return usagef("--list is given twice")
			}
			if filterTaken {
				return usagef("use either a filter or --list, not both")
			}
			v, ok := takeValue()
			if !ok {
				return usagef("--list needs groups separated by commas, e.g. --list Sales,Support")
			}
			if value == nil && toks[i].quoted {
				v = `"` + v + `"` // a quoted entry is a name
			}
			// "a, b, c": words that end in a comma continue the list, as
			// do words inside a quoted entry (a,"Night shift",b).
			for (strings.HasSuffix(strings.TrimSpace(v), ",") || openQuote(v)) && i+1 < len(toks) {
				if _, _, isFlag := flagOf(toks[i+1]); isFlag {
					break
				}
				sep := ""
				if openQuote(v) {
					sep = " "
				}
				i++
				v += sep + toks[i].text
				if toks[i].quoted {
					// Keep the quotes, so that parseList reads the entry
					// as a name.
					v = strings.TrimSuffix(v, toks[i].text) + `"` + toks[i].text + `"`
				}
			}
			refs, err := parseList(v)
			if err != nil {
				return err
			}
			cmd.List = refs
		case "stale":
			if !bulk {
				return usagef("--stale belongs to /wa-leave bulk: /wa-leave bulk --stale <age> [<filter>]")
			}
			if cmd.Stale != 0 {
				return usagef("--stale is given twice")
			}
			v, ok := takeValue()
			if !ok {
				return usagef("--stale needs an age, e.g. --stale 180d")
			}
			d, err := ParseAge(v)
			if err != nil {
				return err
			}
			cmd.Stale = d
		default:
			if bulk {
				return usagef("unknown option --%s (options are --list, --stale, --no-goodbye, --at, --in and --from)", name)
			}
			return usagef("unknown option --%s (options are --no-goodbye, --at, --in and --from)", name)
		}
	}
	endRun()

	if cmd.At != "" && cmd.In != 0 {
		return usagef("use either --at or --in, not both")
	}
	cmd.Goodbye = goodbyeText(text, runs)
	if cmd.Goodbye != "" && cmd.NoGoodbye {
		return usagef("a goodbye text and --no-goodbye contradict each other")
	}
	return checkGoodbyeLen(cmd.Goodbye)
}

// checkGoodbyeLen refuses a goodbye over MaxGoodbyeLen, for the command
// and the request form alike.
func checkGoodbyeLen(goodbye string) error {
	if n := utf8.RuneCountInString(goodbye); n > MaxGoodbyeLen {
		return usagef("the goodbye is %d characters long; the limit is %d", n, MaxGoodbyeLen)
	}
	return nil
}

// goodbyeText is the goodbye as typed: each run of words verbatim, runs
// joined by one space. A goodbye that is a single quoted argument loses its
// quotes.
func goodbyeText(text string, runs [][]token) string {
	if len(runs) == 1 && len(runs[0]) == 1 && runs[0][0].quoted {
		return strings.TrimSpace(runs[0][0].text)
	}
	parts := make([]string, len(runs))
	for i, run := range runs {
		parts[i] = text[run[0].start:run[len(run)-1].end]
	}
	return strings.Join(parts, " ")
}

var (
	datePattern  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	clockPattern = regexp.MustCompile(`^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$`)
	// bareCodePattern is the shape of an invite code typed without its link;
	// see ParseCommand for why the letter and digit mix is required too.
	bareCodePattern = regexp.MustCompile(`^[A-Za-z0-9]{20,24}$`)
	// slackLink matches Slack's link markup <target> and <target|label>. Real
	// angle brackets only come from Slack: typed ones arrive as &lt; &gt;.
	slackLink = regexp.MustCompile(`<([^<>|]*)(?:\|([^<>]*))?>`)
)

// entities undoes the only escaping Slack applies to command text.
var entities = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// normalize turns Slack's wire form of the command text into what the user
// typed.
func normalize(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = slackLink.ReplaceAllStringFunc(text, func(m string) string {
		sub := slackLink.FindStringSubmatch(m)
		target, label := sub[1], sub[2]
		if target == "" || strings.ContainsRune("@#!", rune(target[0])) {
			return m // a mention or special command: leave it as Slack sent it
		}
		// Slack turns a typed "chat.whatsapp.com/X" into
		// <http://chat.whatsapp.com/X|chat.whatsapp.com/X>; the label is what
		// the user wrote. A label that is real link text ("click here") is not,
		// so then the target is the better reading.
		bare := target
		if _, after, ok := strings.Cut(target, "://"); ok {
			bare = after
		} else if _, after, ok := strings.Cut(target, ":"); ok {
			bare = after // mailto:, tel:
		}
		if label != "" && (label == target || label == bare) {
			return label
		}
		return target
	})
	return entities.Replace(text)
}

// token is one argument: a word or a quoted phrase.
type token struct {
	text       string // the argument without its quotes
	start, end int    // byte span in the normalized text, quotes included
	quoted     bool
	unclosed   bool // began with a quote that never closed
}

// quoteFamilies are the quotes that may close one another. Straight and
// typographic quotes are mixed freely because phones and autocorrect mix them.
var quoteFamilies = [...]string{`"“”„‟`, `'‘’‚‛`}

// quoteFamily returns the index in quoteFamilies of the family r belongs to.
func quoteFamily(r rune) (int, bool) {
	for i, f := range quoteFamilies {
		if strings.ContainsRune(f, r) {
			return i, true
		}
	}
	return 0, false
}

func tokenize(text string) []token {
	closers := closingQuotes(text)
	var toks []token
	for i := 0; i < len(text); {
		first, size := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(first) {
			i += size
			continue
		}
		family, isQuote := quoteFamily(first)
		if isQuote {
			c := closers[family]
			if k := sort.SearchInts(c, i+size); k < len(c) {
				end := c[k]
				_, endSize := utf8.DecodeRuneInString(text[end:])
				toks = append(toks, token{text: text[i+size : end], start: i, end: end + endSize, quoted: true})
				i = end + endSize
				continue
			}
		}
		start := i
		for i < len(text) {
			r, size := utf8.DecodeRuneInString(text[i:])
			if unicode.IsSpace(r) {
				break
			}
			i += size
		}
		toks = append(toks, token{text: text[start:i], start: start, end: i, unclosed: isQuote})
	}
	return toks
}

// closingQuotes lists, per quote family, the offsets of quotes that can close
// a quoted argument: those followed by white space or the end of text.
// Finding them in one pass keeps tokenizing linear even when the text is
// full of quotes that never close.
func closingQuotes(text string) [len(quoteFamilies)][]int {
	var pos [len(quoteFamilies)][]int
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if f, ok := quoteFamily(r); ok {
			next, _ := utf8.DecodeRuneInString(text[i+size:])
			if i+size == len(text) || unicode.IsSpace(next) {
				pos[f] = append(pos[f], i)
			}
		}
		i += size
	}
	return pos
}

// flagOf reports whether t is an option, returning its lower-cased name and,
// for --name=value, the value.
func flagOf(t token) (name string, value *string, ok bool) {
	if t.quoted {
		return "", nil, false
	}
	s := t.text
	switch {
	case strings.HasPrefix(s, "--"):
		s = s[2:]
	case strings.HasPrefix(s, "—"), strings.HasPrefix(s, "–"):
		// Autocorrect turns "--" into a dash; accept it only for our own
		// flag names so a goodbye word like "—Bob" stays text.
		_, size := utf8.DecodeRuneInString(s)
		n, _, _ := strings.Cut(s[size:], "=")
		switch strings.ToLower(n) {
		case "no-goodbye", "at", "in":
			s = s[size:]
		default:
			return "", nil, false
		}
	default:
		return "", nil, false
	}
	if r, _ := utf8.DecodeRuneInString(s); !unicode.IsLetter(r) {
		return "", nil, false
	}
	if n, v, hasValue := strings.Cut(s, "="); hasValue {
		return strings.ToLower(n), &v, true
	}
	return strings.ToLower(s), nil, true
}

// rest is the text from the first of toks to the last, trimmed; a single
// quoted argument loses its quotes.
func rest(text string, toks []token) string {
	switch len(toks) {
	case 0:
		return ""
	case 1:
		return strings.TrimSpace(toks[0].text)
	}
	return text[toks[0].start:toks[len(toks)-1].end]
}

func parseGroup(t token) (GroupRef, error) {
	s := t.text
	if t.quoted {
		name := strings.TrimSpace(s)
		if name == "" {
			return GroupRef{}, usagef("the group name is empty")
		}
		return GroupRef{Name: name}, nil
	}
	lower := strings.ToLower(s)
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		switch lower[at:] {
		case "@g.us":
			// The domain is case-insensitive; the gateways want it lower-case.
			jid := s[:at] + "@g.us"
			if !whatsapp.IsGroupJID(jid) {
				return GroupRef{}, usagef("%s is not a valid group id", s)
			}
			return GroupRef{JID: jid}, nil
		case "@c.us", "@s.whatsapp.net", "@lid", "@newsletter", "@broadcast":
			return GroupRef{}, usagef("%s is not a group id (group ids end in @g.us)", s)
		}
	}
	if strings.Contains(lower, "chat.whatsapp.com") {
		link := s
		if !strings.Contains(lower, "://") {
			link = "https://" + s
		}
		code, ok := whatsapp.InviteCode(link)
		if !ok {
			return GroupRef{}, usagef("%s is not a valid WhatsApp invite link", s)
		}
		return GroupRef{InviteCode: code}, nil
	}
	if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		return GroupRef{}, usagef("%s is not a WhatsApp invite link (those start with https://chat.whatsapp.com/)", s)
	}
	if looksLikeCode(s) {
		if code, ok := whatsapp.InviteCode(s); ok {
			return GroupRef{InviteCode: code}, nil
		}
	}
	return GroupRef{Name: s}, nil
}

func looksLikeCode(s string) bool {
	return bareCodePattern.MatchString(s) &&
		strings.ContainsAny(s, "0123456789") &&
		strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
		strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz")
}

// atLayouts are the --at forms, all without a zone; "T" or a space between
// date and time, seconds optional.
var atLayouts = []string{
	"2006-01-02T15:04", "2006-01-02 15:04",
	"2006-01-02T15:04:05", "2006-01-02 15:04:05",
}

// atZoneLayouts are the same with an explicit offset or Z (RFC 3339 and its
// minute-precision cousin), which then wins over the caller's zone.
var atZoneLayouts = []string{
	time.RFC3339, "2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04Z07:00",
}

// atHasZone reports whether an --at value names its own offset or Z, so
// the requester's zone plays no part in it.
func atHasZone(s string) bool {
	for _, layout := range atZoneLayouts {
		if _, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return true
		}
	}
	return false
}

// ResolveAt turns an --at value into an instant. Without a zone in s the wall
// time is read in loc (nil means UTC); an offset or Z in s wins over loc.
// Errors are *UsageError.
//
// Across a daylight-saving change, a wall time that does not exist in loc
// (02:30 on the night clocks jump from 02:00 to 03:00) is an error rather than
// silently moved, and a wall time that occurs twice (01:30 on the night clocks
// fall back) is its first occurrence, so a leave never runs later than the
// user could have meant.
func ResolveAt(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	for _, layout := range atZoneLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range atLayouts {
		wall, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		return inZone(wall, loc)
	}
	return time.Time{}, usagef("%q is not a date and time; write it like 2026-12-01T09:00 or 2026-12-01 09:00", s)
}

// inZone reads the clock fields of wall (a UTC time) as a wall time in loc.
func inZone(wall time.Time, loc *time.Location) (time.Time, error) {
	t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, loc)
	if !sameWall(t, wall) {
		// time.Date normalises a skipped wall time into a neighbouring one.
		return time.Time{}, usagef("%s does not exist in %s (the clocks skip it that night); choose another time",
			wall.Format("2006-01-02 15:04"), loc)
	}
	// time.Date does not promise which of two occurrences it picks, so look
	// for one in the zone period before t's.
	if start, _ := t.ZoneBounds(); !start.IsZero() {
		_, before := start.Add(-time.Second).Zone()
		earlier := wall.Add(-time.Duration(before) * time.Second).In(loc)
		if earlier.Before(start) && sameWall(earlier, wall) {
			return earlier, nil
		}
	}
	return t, nil
}

func sameWall(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	ah, amin, as := a.Clock()
	bh, bmin, bs := b.Clock()
	return ay == by && am == bm && ad == bd && ah == bh && amin == bmin && as == bs
}

// inUnits are ParseIn's units. A day is 24 hours: "--in 3d" means three days
// from now, whatever the clocks do in between.
var inUnits = map[byte]time.Duration{
	'w': 7 * 24 * time.Hour,
	'd': 24 * time.Hour,
	'h': time.Hour,
	'm': time.Minute,
}

// ParseIn parses an --in duration: one or more number-and-unit pairs with
// units w, d, h and m ("90m", "2h", "3d", "1d12h", "1w"). It must be more than
// zero and at most 120 days. Errors are *UsageError.
func ParseIn(s string) (time.Duration, error) {
	return parseUnits(s, unitsSpec{
		bad: fmt.Sprintf("%q is not a duration; write it like 90m, 2h, 3d or 1d12h", s),
		max: maxAhead, tooBig: fmt.Sprintf("%s is too far ahead; the limit is 120 days", s),
		flag: "--in",
	})
}

// CheckWhen reports, as a *UsageError, a scheduled time t that is not after
// now or is more than 120 days after it.
func CheckWhen(t, now time.Time) error {
	if !t.After(now) {
		return usagef("%s is in the past", t.Format("2006-01-02 15:04 MST"))
	}
	if t.Sub(now) > maxAhead {
		return usagef("%s is more than 120 days ahead", t.Format("2006-01-02 15:04 MST"))
	}
	return nil
}
