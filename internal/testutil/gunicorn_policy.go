package testutil

// GunicornPolicy records, beside each case, where gatehouse deliberately answers a case
// of gunicorn's parser suite differently from gunicorn. want is what the codec does:
// a status for a refusal, 200 when it parses (the server may still refuse it; the
// serve/http1 corpus test checks those statuses), or WantIncomplete.
//
// Cases not listed behave as gunicorn does: valid ones parse exactly as listed,
// invalid ones are refused with the status their error class maps to (GunicornStatus).
var GunicornPolicy = map[string]Policy{
	// Transfer codings: only chunked is implemented. "identity" was removed from the
	// registry (RFC 9112 §12.3 no longer lists it) and is a classic smuggling
	// obfuscation; an unknown coding before chunked is 501 (RFC 9112 §6.1).
	"gunicorn/valid/009":                                    {400, "Transfer-Encoding: identity with Content-Length: both framings present (R15), final coding not chunked (R16)"},
	"gunicorn/valid/025":                                    {501, "gzip transfer coding is not implemented (RFC 9112 §6.1 SHOULD 501)"},
	"gunicorn/valid/025_line":                               {501, "gzip transfer coding is not implemented"},
	"gunicorn/valid/029":                                    {501, "identity is not a registered transfer coding"},
	"gunicorn/valid/030":                                    {501, "identity is not a registered transfer coding"},
	"gunicorn/valid/rfc9112_smuggle_gzip_chunked_01":        {501, "gzip transfer coding is not implemented"},
	"gunicorn/valid/rfc9112_smuggle_te_identity_chunked_01": {501, "identity is not a registered transfer coding"},
	// gunicorn compatibility switches gatehouse does not offer.
	"gunicorn/valid/028":                  {400, "whitespace before the colon: RFC 9112 §5.1 says MUST reject; no strip_header_spaces switch"},
	"gunicorn/valid/compat_obs_fold":      {400, "obs-fold is rejected (RFC 9112 §5.2 allows it); no permit_obsolete_folding switch"},
	"gunicorn/valid/compat_obs_fold_huge": {400, "obs-fold is rejected; no permit_obsolete_folding switch"},
	"gunicorn/valid/pp_01":                {400, "PROXY protocol is not spoken; the PROXY line is not a request line"},
	"gunicorn/valid/pp_02":                {400, "PROXY protocol is not spoken"},
	"gunicorn/valid/pp_04":                {400, "PROXY protocol v2 is not spoken"},
	"gunicorn/valid/pp_05":                {400, "PROXY protocol v2 is not spoken"},
	// RFC 9110 §4.2.4: a recipient SHOULD treat userinfo in an http(s) URI as an
	// error; it is a phishing device.
	"gunicorn/valid/rfc9112_target_absolute_userinfo_01": {400, "userinfo in the request-target is refused (RFC 9110 §4.2.4)"},
	// RFC 9112 §3.2: the request-target is ASCII and has no fragment. Where a
	// fragment ends the authority is where URL parsers disagree
	// ("http://evil.example#@good.example/"); non-ASCII bytes are decoded
	// differently by every layer (overlong UTF-8).
	"gunicorn/valid/005": {400, "a fragment in the request-target is refused (RFC 9112 §3.2 has none)"},
	"gunicorn/valid/027": {400, "raw non-ASCII bytes in the request-target are refused (RFC 9112 §3.2, RFC 3986 §2: percent-encode them)"},

	// Invalid in gunicorn, parsed here.
	"gunicorn/invalid/003c":       {200, "\"-bl\" is a valid token; the server answers 501 for an unknown method"},
	"gunicorn/invalid/019":        {200, "X-Forwarded-* are not trusted by the server, so they cannot conflict (no forwarded_allow_ips)"},
	"gunicorn/invalid/040":        {200, "names with '_' are valid tokens, kept at the HTTP layer; gateways drop them from CGI/WSGI variables so they cannot impersonate their '-' twins (gunicorn header_map=refuse is the switch)"},
	"gunicorn/invalid/chunked_07": {200, "Transfer_Encoding is an ordinary field, not Transfer-Encoding; framing is the real chunked field"},

	// Incomplete input: nothing to answer; the server closes when the peer does.
	"gunicorn/invalid/001": {WantIncomplete, "the head never ends"},
	"gunicorn/valid/099":   {WantIncomplete, "Content-Length is 17914 but the capture holds 8599 bytes: a server waits for the rest; what is there parses as listed"},
	"gunicorn/invalid/rfc9112_chunked_missing_final_crlf_01": {WantIncomplete, "the trailer section never ends; the server reads EOF and closes"},
	"gunicorn/invalid/limit_header_default_01":               {431, "the field line is longer than gunicorn's 8190-byte default"},
	"gunicorn/invalid/version_02":                            {505, "HTTP/2.0 is well-formed, just not served here (RFC 9112 §2.3)"},
	"gunicorn/invalid/013":                                   {400, "obs-fold is refused before any size limit applies"},
}

// WantIncomplete marks input that ends before a message does.
const WantIncomplete = -1

// Policy is gatehouse's answer to one corpus case and the reason for it.
type Policy struct {
	Want int    // status the codec refuses with; 200 parsed; WantIncomplete
	Why  string // why this differs from gunicorn
}

// GunicornStatus maps gunicorn's error classes to the status gatehouse answers.
func GunicornStatus(class string) int {
	switch class {
	case "LimitRequestLine":
		return 414
	case "LimitRequestHeaders":
		return 431
	}
	return 400
}
