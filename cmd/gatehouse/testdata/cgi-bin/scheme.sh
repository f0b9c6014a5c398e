#!/bin/sh
# Prints the variables that tell a script it was reached over https.
printf 'Content-Type: text/plain\r\n\r\n'
echo "HTTPS=${HTTPS-unset}"
echo "REQUEST_SCHEME=$REQUEST_SCHEME"
echo "SERVER_PORT=$SERVER_PORT"
