// Package cgi runs CGI/1.1 scripts (RFC 3875): one process per request.
//
// The path under the mount point is walked down from the root to the first
// regular file, which is the script; the rest of the path is PATH_INFO
// (§4.1.5). Scripts are confined as backend/static confines files: dot
// segments, encoded slashes, control bytes and invalid UTF-8 are refused, and
// a symlink leading out of the root does not exist. A missing script is 404,
// one that is not executable 403.
//
// The script's environment is built by proto/cgienv, as for every gateway (so
// a Proxy field never becomes HTTP_PROXY: httpoxy, CVE-2016-5385), plus a
// short allow-list of gatehouse's own environment (PATH by default). No
// command-line arguments are passed, whatever the query: §4.4's search-string
// arguments are how CVE-2012-1823 (php-cgi) turned a URL into options.
//
// The request body goes to the script's stdin: streamed when its length is
// known; spooled to a temporary file first when it is not (a chunked
// request), since §4.1.2 gives the script the length only as CONTENT_LENGTH.
//
// The script's output is a CGI response (§6): a head, parsed here with a
// bounded size, then the body, streamed to the client as it is printed.
// Status sets the status; a Location that is a path is a local redirect
// (§6.2.2), served by Config.LocalRedirect as a GET; any other Location is a
// client redirect, 302 unless Status says otherwise (§6.2.3, §6.2.4). A path
// Location with a 3xx Status goes to the client as it is, as Apache sends it:
// scripts write "Status: 303" with "Location: /done" meaning exactly that. Scripts
// named nph-* may be run as non-parsed-header scripts (§5), whose output is
// the whole HTTP response.
//
// Standard error goes to the log, a record per line with the script's name.
// The working directory is the script's directory (§7.2). Each script runs in
// its own process group, killed whole when the request times out (504) or the
// client goes away.
package cgi
