<?php
// Hands the file back to gatehouse to send (X-Accel-Redirect, a URL path).
header('Cache-Control: private, max-age=60');
header('X-Accel-Redirect: /protected/report.txt');
echo "this body is dropped";
