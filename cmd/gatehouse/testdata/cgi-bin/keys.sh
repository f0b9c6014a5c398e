#!/bin/sh
# Prints what the route's env and params keys control.
printf 'Content-Type: text/plain\r\n\r\n'
echo "GH_TEST_PASSED=$GH_TEST_PASSED"
echo "GH_TEST_KEPT=$GH_TEST_KEPT"
echo "X_PARAM=$X_PARAM"
