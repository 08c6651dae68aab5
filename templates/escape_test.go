package templates

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"<!channel>", "&lt;!channel&gt;"},
		{"<!here|here>", "&lt;!here|here&gt;"},
		{"<@U123>", "&lt;@U123&gt;"},
		{"<http://evil.example|your bank>", "&lt;http://evil.example|your bank&gt;"},
		{"Tom & Jerry", "Tom &amp; Jerry"},
		{"&amp; already", "&amp;amp; already"}, // escaped once more: shows literally as typed
		{"a > b < c", "a &gt; b &lt; c"},
		{"*bold* _it_ ~s~ `c`", "*bold* _it_ ~s~ `c`"},
		{"Grüße 👋", "Grüße 👋"},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscapeClip(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven chars", 10, "eleven ch…"},
		{"a&b", 7, "a&amp;b"},
		{"ab&c", 7, "ab…"},                 // "&amp;" would not fit whole, so it is left out
		{"👋👋👋", 5, "👋👋…"},                  // emoji count two units each
		{"word and more", 10, "word and…"}, // no dangling space before the ellipsis
	}
	for _, tt := range tests {
		got := escapeClip(tt.in, tt.limit)
		if got != tt.want {
			t.Errorf("escapeClip(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
		if width(got) > tt.limit {
			t.Errorf("escapeClip(%q, %d) is %d wide", tt.in, tt.limit, width(got))
		}
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"one line", "> one line"},
		{"two\r\nlines", "> two\n> lines"},
		{"a\n\nb", "> a\n> \n> b"},
		{"> not a quote <!channel>", "> &gt; not a quote &lt;!channel&gt;"},
	}
	for _, tt := range tests {
		if got := quote(tt.in, 3000); got != tt.want {
			t.Errorf("quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := quote(strings.Repeat("x\n", 2000), 100)
	if width(long) > 100 || !strings.HasSuffix(long, "…") {
		t.Errorf("quote not clipped: %d %q", width(long), long)
	}
}

func TestMention(t *testing.T) {
	tests := []struct{ in, want string }{
		{"U012ABCDEF", "<@U012ABCDEF>"},
		{"W012ABCDEF", "<@W012ABCDEF>"},
		{"", ""},
		{"<!channel>", "&lt;!channel&gt;"},
		{"U012><!channel", "U012&gt;&lt;!channel"},
		{"u012abcdef", "u012abcdef"},
	}
	for _, tt := range tests {
		if got := mention(tt.in); got != tt.want {
			t.Errorf("mention(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCode(t *testing.T) {
	if got, want := code("a`b<c>\nd"), "`a'b&lt;c&gt; d`"; got != want {
		t.Errorf("code = %q, want %q", got, want)
	}
}
