<?php
// Prints the variables that tell a script it was reached over https.
header('Content-Type: text/plain');
echo 'HTTPS=', $_SERVER['HTTPS'] ?? 'unset', "\n";
echo 'REQUEST_SCHEME=', $_SERVER['REQUEST_SCHEME'] ?? '', "\n";
echo 'SERVER_PORT=', $_SERVER['SERVER_PORT'] ?? '', "\n";
