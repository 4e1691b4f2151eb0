<?php
/**
 * The HTTP client of the moderation service: the site key, the timeout, JSON in and out.
 *
 * @package Moderation
 */

defined( 'ABSPATH' ) || exit;

/**
 * Calls the service's API with the site key. Every answer is [ status, decoded body ] or a WP_Error
 * (timeout, refused connection): callers decide what a failure means for a comment.
 */
class Moderation_Client {

	const DEFAULT_TIMEOUT = 3;

	/**
	 * The service's base URL, without a trailing slash ('' when not configured).
	 */
	public static function base_url() {
		return untrailingslashit( (string) get_option( 'moderation_service_url', '' ) );
	}

	/**
	 * Whether the plugin has what it needs to send comments.
	 */
	public static function configured() {
		return '' !== self::base_url() && '' !== (string) get_option( 'moderation_site_key', '' );
	}

	/**
	 * Seconds to wait for the service before holding the comment (short: a reader is waiting).
	 */
	public static function timeout() {
		$timeout = (float) get_option( 'moderation_timeout', self::DEFAULT_TIMEOUT );
		return $timeout > 0 ? min( $timeout, 30 ) : self::DEFAULT_TIMEOUT;
	}

	/**
	 * The language the service should answer in: Indonesian on an Indonesian site, else English.
	 */
	public static function language() {
		return 0 === strpos( determine_locale(), 'id' ) ? 'id' : 'en';
	}

	/**
	 * POST a JSON body to a path of the API.
	 *
	 * @param string $path    The path, e.g. '/v1/comments'.
	 * @param array  $body    The JSON body.
	 * @param array  $headers Extra headers.
	 * @return array|WP_Error [ int status, array|null body ] or the transport error.
	 */
	public static function post( $path, $body, $headers = array() ) {
		$response = wp_remote_post(
			self::base_url() . $path,
			array(
				'timeout'     => self::timeout(),
				'redirection' => 0,
				'headers'     => array_merge(
					array(
						'Authorization'   => 'Bearer ' . get_option( 'moderation_site_key', '' ),
						'Content-Type'    => 'application/json',
						'Accept'          => 'application/json',
						'Accept-Language' => self::language(),
					),
					$headers
				),
				'body'        => wp_json_encode( $body ),
			)
		);
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		$decoded = json_decode( wp_remote_retrieve_body( $response ), true );
		return array( (int) wp_remote_retrieve_response_code( $response ), is_array( $decoded ) ? $decoded : null );
	}
}
