package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/slack-go/slack"
)

// DecodeInteraction decodes the body of an interactivity request: a
// form-encoded body whose only field of interest, payload, is the
// interaction as JSON. Unlike slack.InteractionCallbackParse it works on the
// bytes VerifySlack already read, and it refuses bodies over 1 MiB, a missing
// or empty payload, and payloads that are not a JSON object.
func DecodeInteraction(body []byte) (slack.InteractionCallback, error) {
	var ic slack.InteractionCallback
	if len(body) > maxBodyBytes {
		return ic, fmt.Errorf("decode interaction: body is %d bytes, over the %d limit", len(body), maxBodyBytes)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return ic, fmt.Errorf("decode interaction: %w", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return ic, errors.New("decode interaction: payload is missing")
	}
	// A JSON null or a bare string would unmarshal "successfully" into a zero
	// callback; only an object is an interaction.
	if !strings.HasPrefix(strings.TrimLeft(payload, " \t\r\n"), "{") {
		return ic, errors.New("decode interaction: payload is not a JSON object")
	}
	if err := json.Unmarshal([]byte(payload), &ic); err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("decode interaction: %w", err)
	}
	return ic, nil
}
