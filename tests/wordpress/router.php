<?php
/**
 * Router for `php -S`: WordPress from Debian's /usr/share/wordpress, wp-content from the test's directory,
 * and the test's configuration (/etc/wordpress/config-<name>.php, Debian's lookup) for every request.
 */
$_SERVER['WORDPRESS_CONFIG'] = getenv( 'MODERATION_WP_CONFIG' );
$root    = '/usr/share/wordpress';
$content = getenv( 'MODERATION_WP_CONTENT' );
$path    = rawurldecode( parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH ) );
if ( strpos( $path, '..' ) !== false ) {
	http_response_code( 400 );
	return true;
}
$file = 0 === strpos( $path, '/wp-content/' ) ? $content . substr( $path, strlen( '/wp-content' ) ) : $root . $path;
$script = $path;
if ( is_dir( $file ) ) {
	$file   = rtrim( $file, '/' ) . '/index.php';
	$script = rtrim( $path, '/' ) . '/index.php';
}
if ( ! is_file( $file ) ) {
	$file   = $root . '/index.php';
	$script = '/index.php';
}
if ( substr( $file, -4 ) !== '.php' ) {
	$types = array( 'css' => 'text/css', 'js' => 'text/javascript', 'svg' => 'image/svg+xml', 'png' => 'image/png',
		'woff2' => 'font/woff2', 'woff' => 'font/woff', 'json' => 'application/json', 'jpg' => 'image/jpeg' );
	$ext   = strtolower( pathinfo( $file, PATHINFO_EXTENSION ) );
	header( 'Content-Type: ' . ( isset( $types[ $ext ] ) ? $types[ $ext ] : 'application/octet-stream' ) );
	readfile( $file );
	return true;
}
$_SERVER['SCRIPT_FILENAME'] = $file;
$_SERVER['SCRIPT_NAME']     = $script;
$_SERVER['PHP_SELF']        = $script;
chdir( dirname( $file ) );
require $file;
