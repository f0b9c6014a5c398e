<?php
// A PHP script with no CSRF protection and no session of its own: gatehouse
// gives it the token (HTTP_X_CSRF_TOKEN, GATEHOUSE_CSRF_TOKEN) to embed in
// its forms and refuses forged requests before they reach it; it keeps the
// session, passing the user as HTTP_X_SESSION_USER and taking a login
// through the X-Session-Set response field.
$count_file = sys_get_temp_dir() . '/comments.count';
$count = (int) @file_get_contents($count_file);
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'];

if ($method === 'POST' && $path === '/comment') {
    $count++;
    file_put_contents($count_file, (string) $count);
    echo "saved $count";
    exit;
}
if ($method === 'POST' && $path === '/login') {
    header('X-Session-Set: user=' . ($_POST['user'] ?? ''));
    header('Location: /', true, 303);
    exit;
}
if ($method === 'POST' && $path === '/logout') {
    header('X-Session-Destroy: 1');
    header('Location: /', true, 303);
    exit;
}
if ($path === '/count') {
    echo $count;
    exit;
}
if ($path === '/env') {
    header('Content-Type: text/plain');
    foreach (['HTTP_X_CSRF_TOKEN', 'GATEHOUSE_CSRF_TOKEN', 'HTTP_X_SESSION_USER', 'HTTP_X_FORWARDED_USER',
              'HTTP_X_FORWARDED_EMAIL', 'HTTP_GATEHOUSE_DEBUG'] as $k) {
        echo $k, '=', $_SERVER[$k] ?? '', "\n";
    }
    exit;
}
$token = htmlspecialchars($_SERVER['HTTP_X_CSRF_TOKEN'] ?? '');
$user = htmlspecialchars($_SERVER['HTTP_X_SESSION_USER'] ?? '');
?><!doctype html>
<html><head><title>comments</title></head><body>
<p id="user"><?= $user !== '' ? $user : 'anonymous' ?></p>
<form id="comment" method="post" action="/comment">
<input type="hidden" name="csrf_token" value="<?= $token ?>">
<input name="text" id="text"><button id="send">send</button>
</form>
<form id="login" method="post" action="/login">
<input type="hidden" name="csrf_token" value="<?= $token ?>">
<input name="user" id="name"><button id="enter">log in</button>
</form>
<p id="count"><?= $count ?></p>
</body></html>
