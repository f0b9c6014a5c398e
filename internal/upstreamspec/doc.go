// Package upstreamspec holds the names and small grammars of upstream pools
// that gatehouse's configuration uses, each written once: the balancing
// policies, the kinds of active health check, the expected status of an HTTP
// check ("200", "2xx") and the bounds of a weight. config validates them and
// upstream, which owns the pools, acts on them.
//
// It sits at layer 0 so that config (which may import nothing else of
// gatehouse) and upstream share it.
package upstreamspec
