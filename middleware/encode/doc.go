// Package encode compresses responses on the fly (RFC 9110 §8.4 content
// codings): zstd (RFC 8878), brotli (RFC 7932) and gzip (RFC 1952), chosen by
// the request's Accept-Encoding q-values (§12.5.3), for responses of the
// configured types and at least a minimum size. The codecs are
// github.com/klauspost/compress (gzip, zstd) and github.com/andybalholm/brotli;
// nothing here encodes a bit itself.
//
// What it leaves alone, and why:
//   - responses that already have a Content-Encoding: a precompressed
//     static sidecar (which keeps its priority and its sendfile), an
//     application's own gzip;
//   - Cache-Control: no-transform (§7.7 of RFC 9111: a proxy must not
//     change the representation);
//   - 206 partial content: a range is of the unencoded bytes, and ranges of
//     an on-the-fly encoding cannot be served consistently, so compressed
//     responses also drop Accept-Ranges;
//   - HEAD, 1xx, 204 and 304 (no body), and bodies below the minimum, which
//     would grow.
//
// A compressed response loses its Content-Length (the body is sent chunked
// on HTTP/1.1) and its strong ETag becomes weak (W/"..."): the compressed
// bytes are not the bytes the strong tag names (§8.8.1), while a weak tag
// still revalidates, as If-None-Match compares weakly (§13.1.2). Every
// response whose type could be compressed carries Vary: Accept-Encoding
// (§12.5.5), whether or not this client's was, so caches keep the variants
// apart.
//
// Streaming is kept: a Flush flushes the compressor (a sync flush, so the
// client can decode all it has) and then the connection, so Server-Sent
// Events, long polls and an application's flushed blocks still go out when
// they are flushed. A file the handler sends (SendFile) is read and
// compressed when the response is compressed, and goes out by sendfile(2)
// untouched when it is not.
package encode
