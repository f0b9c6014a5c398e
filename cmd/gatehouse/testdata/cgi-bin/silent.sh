#!/bin/sh
# Prints nothing for a long time: a client that leaves must not wait for it.
# The test names a file for the process id in the query.
echo $$ > "$QUERY_STRING"
sleep 30
printf 'Content-Type: text/plain\r\n\r\nlate\n'
