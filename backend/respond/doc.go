// Package respond is the respond backend: every request gets the same
// configured response (status, fields, body), as nginx's `return 503 "..."`.
// A maintenance page or a health answer needs no files and no application.
package respond
