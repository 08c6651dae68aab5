package whatsapp

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsGroupJID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{testGroup, true},
		{testOldGroup, true},
		{"12345@g.us", true},
		{"1234@g.us", false},
		{"120363406289005073@G.US", false},
		{"120363406289005073@g.us ", false},
		{"120363406289005073", false},
		{testUser, false},
		{"abc@g.us", false},
		{"-1587570015@g.us", false},
		{"", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, IsGroupJID(tt.in), "IsGroupJID(%q)", tt.in)
	}
}

func TestInviteCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"AbCdEfGhIjKl", "AbCdEfGhIjKl", true},
		{"https://chat.whatsapp.com/AbCdEfGhIjKl", "AbCdEfGhIjKl", true},
		{"http://chat.whatsapp.com/AbCdEfGhIjKl/", "AbCdEfGhIjKl", true},
		{"https://chat.whatsapp.com/invite/AbCdEfGhIjKl?utm=x", "AbCdEfGhIjKl", true},
		{"https://CHAT.WHATSAPP.COM/AbCdEfGhIjKl", "AbCdEfGhIjKl", true},
		{"https://chat.whatsapp.com.evil.example/AbCdEfGhIjKl", "", false},
		{"ftp://chat.whatsapp.com/AbCdEfGhIjKl", "", false},
		{"https://chat.whatsapp.com/abc", "", false},
		{"short", "", false},
		{testGroup, "", false},
	}
	for _, tt := range tests {
		got, ok := InviteCode(tt.in)
		assert.Equal(t, tt.wantOK, ok, "InviteCode(%q)", tt.in)
		assert.Equal(t, tt.want, got, "InviteCode(%q)", tt.in)
	}
	assert.Equal(t, "https://chat.whatsapp.com/AbCdEfGhIjKl", InviteLink("AbCdEfGhIjKl"))
}

func TestUserJIDs(t *testing.T) {
	t.Parallel()
	for _, s := range []string{testUser, "5511999999999@s.whatsapp.net", "123456789012345@lid"} {
		assert.True(t, isUserJID(s), s)
	}
	for _, s := range []string{testGroup, "79001234567", "x@c.us", "79001234567@c.us.evil", ""} {
		assert.False(t, isUserJID(s), s)
	}
	assert.Equal(t, "79001234567@c.us", asCUs("79001234567@s.whatsapp.net"))
	assert.Equal(t, "1@lid", asCUs("1@lid"))
	assert.Equal(t, "79001234567", ryzeNumber(testUser))
	assert.Equal(t, testGroup, ryzeNumber(testGroup))
	assert.Equal(t, "120363406289005073%40g.us", escapeSegment(testGroup))
}
