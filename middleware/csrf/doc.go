// Package csrf refuses cross-site request forgery in front of any backend,
// so that an application with no protection of its own (a PHP script, a
// Flask app) is protected all the same. See docs/csrf.md.
//
// Layer 1, always on when the middleware is: the browser's own word on
// where a request comes from. It is Go's net/http.CrossOriginProtection
// (Go 1.25, src/net/http/csrf.go), ported to gatehouse's request type:
//
//   - GET, HEAD and OPTIONS pass: they must not change state (an
//     application whose GET does is at fault; no check can save it).
//   - Sec-Fetch-Site (Fetch Metadata, sent by every current browser):
//     same-origin and none (typed, bookmarked) pass; same-site and
//     cross-site are refused, a sibling subdomain included, unless the
//     request is exempt.
//   - Without it, Origin (older browsers): absent passes (a non-browser
//     client, which carries no victim's cookies), the request's own host
//     passes, anything else is refused unless exempt; "null" (a sandboxed
//     frame, a data: URL) is never the request's host.
//   - Exempt: an Origin in TrustedOrigins, compared exactly as
//     scheme://host[:port], or a path under a bypass pattern. A pattern
//     "/webhooks/" exempts /webhooks/x and never /webhooks or /webhooksX
//     (GO-2025-3955: Go 1.25.0's patterns exempted more than they named),
//     and it is matched on the path as routing cleans it (route.Clean), so
//     "/webhooks/../admin" is not under it.
//
// Where the port differs: an Origin holding userinfo ("https://a@host") is
// refused where net/http would compare its host; hosts are compared without
// regard to case.
//
// Layer 2, optional: a token the attacker's page cannot know. Synchronizer
// tokens live in the session (middleware/session), 32 random bytes;
// signed double-submit tokens, for sites without a session store, are the
// HMAC of a random value held in a __Host- cookie (and of the session's ID,
// when there is one). Every response's token is masked with fresh random
// bytes (BREACH: a compressed page must not repeat a secret byte for byte).
// The token reaches every backend as the X-CSRF-Token field and the
// GATEHOUSE_CSRF_TOKEN variable, so that a server-rendered form embeds it;
// gatehouse checks it on every unsafe request that carries a cookie or
// Basic-style credentials a browser keeps (a request without them carries
// no ambient credentials to abuse), from the
// X-CSRF-Token field or the form field csrf_token of a url-encoded or
// multipart body, read up to a limit and passed on unchanged. Comparisons
// are constant-time. A refused request never reaches the backend.
package csrf
