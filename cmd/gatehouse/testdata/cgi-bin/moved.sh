#!/bin/sh
# A local redirect (RFC 3875 §6.2.2): gatehouse serves the path itself.
printf 'Location: /cgi-bin/env.sh/redirected\r\n\r\n'
