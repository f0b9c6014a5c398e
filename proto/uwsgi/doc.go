// Package uwsgi is the codec of the uwsgi protocol, the binary protocol of the
// uWSGI application server and of nginx's uwsgi_pass
// (https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html).
//
// A request is one packet followed by the request body:
//
//	modifier1 (1 byte) | datasize (2 bytes, little endian) | modifier2 (1 byte)
//	datasize bytes of variables, each: keysize (2 bytes LE) key valsize (2 bytes LE) value
//	CONTENT_LENGTH bytes of body
//
// For a WSGI request (modifier1 0, modifier2 0) the variables are the CGI/1.1
// meta-variables of RFC 3875 plus the request's header fields as HTTP_*
// variables. The response is not a uwsgi packet: it is an HTTP/1.x response
// (status line, fields, body), read with proto/http1.
//
// The 16-bit datasize bounds the variable block at 65535 bytes. A request
// whose variables do not fit cannot be sent: Builder refuses it with
// ErrVarsTooLarge (431), never with a truncated packet, which a peer would
// misread as a different request.
//
// Like every proto package this one is pure: bytes in, offsets and values out,
// no I/O. Parser is incremental: given a prefix of a packet it returns
// ErrNeedMore.
package uwsgi
