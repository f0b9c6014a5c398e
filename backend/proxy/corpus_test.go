package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"gatehouse/middleware/realip"
)

// corpusCase is a case of proto/http1's llhttp response corpus (see
// proto/http1/testdata/llhttp-response.SOURCE).
type corpusCase struct {
	File     string `json:"file"`
	Name     string `json:"name"`
	Raw      string `json:"raw"`
	Method   string `json:"method"`
	Status   int    `json:"status"`
	Body     string `json:"body"`
	Want     string `json:"want"`     // "accept" or "refuse"
	Complete bool   `json:"complete"` // the body ends within raw
}

// The llhttp response corpus replayed from a fake upstream (research
// §4.9): a response the parser refuses is 502 with none of its bytes
// relayed, or, when only its body is bad, a cut response; an accepted one
// keeps its status, and its body when the connection's end does not
// decide it.
func TestLLHTTPCorpusThroughProxy(t *testing.T) {
	data, err := os.ReadFile("../../proto/http1/testdata/llhttp-response.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c corpusCase
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	if len(cases) < 70 {
		t.Fatalf("%d cases", len(cases))
	}
	refused := 0
	for _, c := range cases {
		t.Run(c.File+"/"+c.Name, func(t *testing.T) {
			f := newFake(t, func(f *fake, conn net.Conn, br *bufio.Reader) {
				if _, err := f.readRequest(br); err != nil {
					return
				}
				io.WriteString(conn, c.Raw)
			})
			h, _ := newProxy(t, Config{Retries: -1, Upgrade: []string{}}, f.addr())
			addr := front(t, "goroutine", h, realip.Trust{})
			method := "GET"
			if c.Method != "" {
				method = c.Method
			}
			resp, body, berr := do(t, addr, method+" / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			if resp == nil {
				t.Fatal("no response")
			}
			switch {
			case c.Want == "refuse" && resp.StatusCode == 502:
				refused++
			case c.Want == "refuse":
				// Only a bad body may get past the head: then the
				// response must be cut, never end cleanly.
				if berr == nil {
					t.Fatalf("refused case relayed as %d %q, ended cleanly", resp.StatusCode, body)
				}
			case !c.Complete && (resp.StatusCode == 502 || berr != nil):
				// The upstream closes inside the body: 502 when nothing
				// went out yet, else a cut response.
			case c.Status == 101:
				// A switch nobody asked for is refused whatever the corpus allows.
				if resp.StatusCode != 502 {
					t.Fatalf("unasked 101 relayed as %d", resp.StatusCode)
				}
			case resp.StatusCode != c.Status:
				t.Fatalf("status %d, want %d", resp.StatusCode, c.Status)
			case berr == nil && c.Body != "" && body != c.Body:
				t.Fatalf("body %q, want %q", body, c.Body)
			}
		})
	}
	if refused < 20 {
		t.Errorf("only %d cases answered 502", refused)
	}
}
