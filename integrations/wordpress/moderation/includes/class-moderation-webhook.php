<?php
/**
 * The REST route that receives the service's signed webhooks and applies its decisions.
 *
 * @package Moderation
 */

defined( 'ABSPATH' ) || exit;

/**
 * POST /wp-json/moderation/v1/webhook (or ?rest_route=/moderation/v1/webhook without pretty permalinks).
 */
class Moderation_Webhook {

	const MAX_AGE = 300; // Seconds: an older signature is a replay.

	/**
	 * True while a status from the service is being applied, so it is not sent back.
	 *
	 * @var bool
	 */
	private static $applying = false;

	/**
	 * Hook in.
	 */
	public static function register() {
		add_action( 'rest_api_init', array( __CLASS__, 'routes' ) );
	}

	/**
	 * Whether the current status change comes from the service.
	 */
	public static function applying() {
		return self::$applying;
	}

	/**
	 * Set a status the service decided, without telling the service about it again.
	 *
	 * @param int    $comment_id The WordPress comment.
	 * @param string $target     approve, hold, spam or trash.
	 */
	public static function apply_status( $comment_id, $target ) {
		if ( wp_get_comment_status( $comment_id ) === self::status_name( $target ) ) {
			return;
		}
		self::$applying = true;
		try {
			wp_set_comment_status( $comment_id, $target );
		} finally {
			self::$applying = false;
		}
	}

	/**
	 * The webhook's URL, to give to `moderation sites set-webhook`.
	 */
	public static function url() {
		return rest_url( 'moderation/v1/webhook' );
	}

	/**
	 * Register the route. The signature is the authentication: no WordPress user sends this.
	 */
	public static function routes() {
		register_rest_route(
			'moderation/v1',
			'/webhook',
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'receive' ),
				'permission_callback' => array( __CLASS__, 'verify' ),
			)
		);
	}

	/**
	 * Check X-Moderation-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return true|WP_Error
	 */
	public static function verify( $request ) {
		$secret = (string) get_option( 'moderation_webhook_secret', '' );
		$header = (string) $request->get_header( 'x_moderation_signature' );
		$parts  = array();
		foreach ( explode( ',', $header ) as $pair ) {
			$kv = explode( '=', trim( $pair ), 2 );
			if ( 2 === count( $kv ) ) {
				$parts[ $kv[0] ] = $kv[1];
			}
		}
		if ( '' === $secret || ! isset( $parts['t'], $parts['v1'] ) || ! ctype_digit( $parts['t'] ) ) {
			return new WP_Error( 'moderation_unsigned', __( 'Missing or malformed signature.', 'moderation' ), array( 'status' => 401 ) );
		}
		$expected = hash_hmac( 'sha256', $parts['t'] . '.' . $request->get_body(), $secret );
		if ( ! hash_equals( $expected, $parts['v1'] ) ) {
			return new WP_Error( 'moderation_bad_signature', __( 'The signature does not match.', 'moderation' ), array( 'status' => 401 ) );
		}
		if ( abs( time() - (int) $parts['t'] ) > self::MAX_AGE ) {
			return new WP_Error( 'moderation_stale_signature', __( 'The signature is too old.', 'moderation' ), array( 'status' => 401 ) );
		}
		return true;
	}

	/**
	 * Apply a comment.status_changed event to the WordPress comment that carries the service's id.
	 *
	 * @param WP_REST_Request $request The request.
	 */
	public static function receive( $request ) {
		global $wpdb;
		$event = json_decode( $request->get_body(), true );
		if ( ! is_array( $event ) || ! isset( $event['event'], $event['comment_id'], $event['status'], $event['revision'] ) ) {
			return new WP_Error( 'moderation_bad_event', __( 'Not a moderation event.', 'moderation' ), array( 'status' => 400 ) );
		}
		if ( 'comment.status_changed' !== $event['event'] ) {
			return rest_ensure_response( array( 'applied' => false, 'why' => 'unknown event' ) );
		}
		$comment_id = (int) $wpdb->get_var(
			$wpdb->prepare(
				"SELECT comment_id FROM {$wpdb->commentmeta} WHERE meta_key = %s AND meta_value = %s LIMIT 1",
				Moderation_Comments::META_ID,
				(string) (int) $event['comment_id']
			)
		);
		// A 2xx even when we do not know the comment, or the service would retry it for a day.
		if ( ! $comment_id ) {
			return rest_ensure_response( array( 'applied' => false, 'why' => 'unknown comment' ) );
		}
		$known = (int) get_comment_meta( $comment_id, Moderation_Comments::META_REVISION, true );
		if ( (int) $event['revision'] <= $known ) {
			return rest_ensure_response( array( 'applied' => false, 'why' => 'already applied' ) );
		}
		$target = self::wordpress_status( (string) $event['status'], isset( $event['label'] ) ? (string) $event['label'] : '' );
		if ( null === $target ) {
			return new WP_Error( 'moderation_bad_status', __( 'Unknown status.', 'moderation' ), array( 'status' => 400 ) );
		}
		self::apply_status( $comment_id, $target );
		update_comment_meta( $comment_id, Moderation_Comments::META_REVISION, (int) $event['revision'] );
		delete_comment_meta( $comment_id, Moderation_Comments::META_CONFLICT );
		return rest_ensure_response(
			array(
				'applied'    => true,
				'comment_id' => $comment_id,
				'status'     => $target,
			)
		);
	}

	/**
	 * The service's status as wp_set_comment_status() takes it.
	 *
	 * @param string $status published, held, spam, rejected or removed.
	 * @param string $label  The moderator's label (spam, toxic, other, ham).
	 */
	private static function wordpress_status( $status, $label ) {
		switch ( $status ) {
			case 'published':
				return 'approve';
			case 'held':
				return 'hold';
			case 'spam':
				return 'spam';
			case 'rejected':
			case 'removed':
				return 'spam' === $label ? 'spam' : 'trash';
		}
		return null;
	}

	/**
	 * The name wp_get_comment_status() gives the status that wp_set_comment_status() sets.
	 *
	 * @param string $target approve, hold, spam or trash.
	 */
	private static function status_name( $target ) {
		$names = array(
			'approve' => 'approved',
			'hold'    => 'unapproved',
			'spam'    => 'spam',
			'trash'   => 'trash',
		);
		return $names[ $target ];
	}
}
