<?php
// 8 MiB, written as it is made (output_buffering = 0 in the tests' php.ini).
header('Content-Type: application/octet-stream');
$block = str_repeat('x', 65536);
for ($i = 0; $i < 128; $i++) {
    echo $block;
}
