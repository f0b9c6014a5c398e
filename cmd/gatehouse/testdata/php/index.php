<?php
// The front controller: every path that names no file ends here.
header('Content-Type: text/plain');
echo "front ", $_SERVER['REQUEST_URI'], "\n";
