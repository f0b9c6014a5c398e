#!/bin/sh
# Prints the identity and token variables a client must not be able to forge.
printf 'Content-Type: text/plain\r\n\r\n'
echo "HTTP_X_FORWARDED_USER=$HTTP_X_FORWARDED_USER"
echo "HTTP_X_FORWARDED_EMAIL=$HTTP_X_FORWARDED_EMAIL"
echo "HTTP_X_CSRF_TOKEN=$HTTP_X_CSRF_TOKEN"
echo "HTTP_X_SESSION_USER=$HTTP_X_SESSION_USER"
echo "HTTP_GATEHOUSE_DEBUG=$HTTP_GATEHOUSE_DEBUG"
echo "GATEHOUSE_CSRF_TOKEN=$GATEHOUSE_CSRF_TOKEN"
echo "HTTP_X_REAL_NAME=$HTTP_X_REAL_NAME"
