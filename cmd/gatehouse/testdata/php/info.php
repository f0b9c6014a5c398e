<?php
header('Content-Type: text/plain');
header('X-Powered: php');
setcookie('seen', 'yes');
foreach (['SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'REQUEST_METHOD', 'HTTP_PROXY', 'HTTP_X_TEST', 'SERVER_SOFTWARE'] as $k) {
    echo $k, '=', $_SERVER[$k] ?? '', "\n";
}
echo 'post=', $_POST['name'] ?? '', "\n";
if (isset($_FILES['up'])) {
    echo 'upload=', $_FILES['up']['name'], ' ', filesize($_FILES['up']['tmp_name']), ' ', md5_file($_FILES['up']['tmp_name']), "\n";
}
