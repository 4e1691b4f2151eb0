<?php
/**
 * Run PHP from stdin inside the test's WordPress: php eval.php CONFIG HOST [install]. Prints the JSON of
 * the code's return value after a marker line, so WordPress's own output cannot be mistaken for it.
 */
$_SERVER['WORDPRESS_CONFIG'] = $argv[1];
$_SERVER['HTTP_HOST']        = $argv[2];
$_SERVER['SERVER_NAME']      = explode( ':', $argv[2] )[0];
$_SERVER['REQUEST_URI']      = '/';
$_SERVER['REQUEST_METHOD']   = 'GET';
if ( isset( $argv[3] ) && 'install' === $argv[3] ) {
	define( 'WP_INSTALLING', true );
}
require '/usr/share/wordpress/wp-load.php';
$moderation_test_code = stream_get_contents( STDIN );
$moderation_test_result = ( function () use ( $moderation_test_code ) {
	return eval( $moderation_test_code );
} )();
echo "\n@@RESULT@@\n" . wp_json_encode( $moderation_test_result );
