#!/bin/sh
# Prints the CGI variables a test checks.
printf 'Content-Type: text/plain\r\n\r\n'
echo "SCRIPT_NAME=$SCRIPT_NAME"
echo "PATH_INFO=$PATH_INFO"
echo "QUERY_STRING=$QUERY_STRING"
echo "HTTP_PROXY=$HTTP_PROXY"
echo "HTTP_X_REQUEST_ID=$HTTP_X_REQUEST_ID"
echo "body=$(cat)"
