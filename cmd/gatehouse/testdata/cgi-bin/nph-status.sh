#!/bin/sh
# A non-parsed-header script: its output is the whole response.
printf 'HTTP/1.1 299 Whole Response\r\nContent-Type: text/plain\r\nX-NPH: yes\r\n\r\nfrom the script\n'
