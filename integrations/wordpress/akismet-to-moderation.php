<?php
/**
 * Plugin Name: Akismet → moderation service
 * Description: Sends the Akismet plugin's API calls to your moderation service instead of rest.akismet.com. Install as a must-use plugin (wp-content/mu-plugins/) and define MODERATION_AKISMET_URL in wp-config.php.
 * Version:     1.0.0
 * License:     MIT
 *
 * @package Moderation
 */

defined( 'ABSPATH' ) || exit;

add_filter(
	'pre_http_request',
	function ( $pre, $args, $url ) {
		// The Akismet plugin's API host is a class constant: only this filter can send its calls elsewhere.
		if ( ! defined( 'MODERATION_AKISMET_URL' ) || ! preg_match( '#^https?://([^/]*\.)?rest\.akismet\.com/(1\.[0-9]/.*)$#', $url, $m ) ) {
			return $pre;
		}
		unset( $args['headers']['Host'] ); // Akismet names its own host; the service has another.
		return wp_remote_post( rtrim( MODERATION_AKISMET_URL, '/' ) . '/' . $m[2], $args );
	},
	10,
	3
);
