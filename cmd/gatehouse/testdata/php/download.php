<?php
// Hands the file back to gatehouse to send (X-Sendfile).
header('Content-Disposition: attachment; filename="report.txt"');
header('X-Sendfile: ' . dirname($_SERVER['DOCUMENT_ROOT']) . '/downloads/report.txt');
echo "this body is dropped";
