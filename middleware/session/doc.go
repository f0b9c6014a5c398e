// Package session gives every application behind gatehouse a session,
// whether or not it has a session library: Go handlers use it directly
// (From), other backends (PHP, WSGI, CGI, uwsgi) through request and
// response fields (protocol.go). See docs/sessions.md.
//
// A session lives on the server (a store.Store: memory for one instance,
// Redis for several, so that a user logged in through one instance goes on
// through another), the cookie holding only its random ID; or, with no
// store, in the cookie itself, sealed (proto/cookie). The rules, each for
// the attack it stops:
//
//   - IDs are 32 bytes from crypto/rand: guessing one is hopeless.
//   - An ID the store does not know is never taken up: the request gets a
//     new session with a new ID (session fixation through a planted ID).
//   - A new ID on login, logout and privilege change (Renew, or a change of
//     a value in Config.RenewOn), the old one deleted at once (fixation
//     through an ID learned before the login).
//   - An absolute lifetime and an idle timeout, kept on the server (the
//     store's time to live, the record's start time), never trusted from
//     the client.
//   - The store holds the ID only as a hash (store.Redis): a dump of Redis
//     opens no session.
//   - A store that cannot be reached is 503 and a log line, never a new
//     empty session: that would split a user's session between instances.
//   - The cookie is __Host-gh_session, HttpOnly, Secure, SameSite=Lax,
//     Path=/ (proto/cookie.New), and its response is Cache-Control:
//     private, no-store, so no shared cache hands one user's cookie to
//     another.
package session
