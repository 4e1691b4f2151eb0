<?php
/**
 * New comments go to the service before WordPress stores them; decisions made here go back to it.
 *
 * @package Moderation
 */

defined( 'ABSPATH' ) || exit;

/**
 * The comment hooks: pre_comment_approved (decide), comment_post (remember our id), and
 * transition_comment_status (tell the service what a moderator did in wp-admin).
 */
class Moderation_Comments {

	const META_ID        = '_moderation_id';
	const META_REVISION  = '_moderation_revision';
	const META_UNCHECKED = '_moderation_unchecked';
	const META_CONFLICT  = '_moderation_conflict';
	const META_UNSENT    = '_moderation_unsent';
	const RECHECK_HOOK   = 'moderation_recheck';
	const RESEND_HOOK    = 'moderation_resend';
	const RECHECK_DELAY  = 300; // Seconds between attempts to send the comments held unchecked.
	const RECHECK_BATCH  = 50;

	/**
	 * What the service said about the comment being inserted, until comment_post gives it an ID.
	 *
	 * @var array|null
	 */
	private static $pending = null;

	/**
	 * Hook in.
	 */
	public static function register() {
		// Late, so that core's and other plugins' spam, trash and errors are already decided.
		add_filter( 'pre_comment_approved', array( __CLASS__, 'decide' ), 99, 2 );
		add_action( 'comment_post', array( __CLASS__, 'remember' ), 10, 1 );
		add_action( 'transition_comment_status', array( __CLASS__, 'sync_decision' ), 10, 3 );
		add_action( 'admin_notices', array( __CLASS__, 'conflict_notice' ) );
		add_action( self::RECHECK_HOOK, array( __CLASS__, 'recheck' ) );
		add_action( self::RESEND_HOOK, array( __CLASS__, 'resend' ) );
	}

	/**
	 * On the Comments screen: how many decisions made here the service refused, so nobody believes
	 * the two queues agree when they do not.
	 */
	public static function conflict_notice() {
		global $wpdb;
		$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
		if ( ! $screen || 'edit-comments' !== $screen->id || ! current_user_can( 'moderate_comments' ) ) {
			return;
		}
		$count = (int) $wpdb->get_var(
			$wpdb->prepare( "SELECT COUNT(*) FROM {$wpdb->commentmeta} WHERE meta_key = %s", self::META_CONFLICT )
		);
		$waiting = (int) $wpdb->get_var(
			$wpdb->prepare( "SELECT COUNT(*) FROM {$wpdb->commentmeta} WHERE meta_key = %s", self::META_UNSENT )
		);
		if ( $waiting > 0 ) {
			/* translators: %d: number of decisions */
			$text = sprintf( _n( '%d decision made here has not reached the moderation service yet; it is sent again every few minutes.', '%d decisions made here have not reached the moderation service yet; they are sent again every few minutes.', $waiting, 'moderation' ), $waiting );
			echo '<div class="notice notice-info"><p>' . esc_html( $text ) . '</p></div>';
		}
		if ( $count > 0 ) {
			/* translators: %d: number of comments */
			$text = sprintf( _n( '%d comment was decided here differently from the moderation service (which had decided it already, or could not be reached). Its decision on the service stands.', '%d comments were decided here differently from the moderation service (which had decided them already, or could not be reached). Their decisions on the service stand.', $count, 'moderation' ), $count );
			echo '<div class="notice notice-warning"><p>' . esc_html( $text ) . '</p></div>';
		}
	}

	/**
	 * Ask the service; publish (1), hold (0) or spam ('spam': rejected outright), or refuse the submission
	 * with the service's message.
	 *
	 * @param int|string|WP_Error $approved    What core and earlier filters decided.
	 * @param array               $commentdata The comment.
	 * @return int|string|WP_Error
	 */
	public static function decide( $approved, $commentdata ) {
		self::$pending = null;
		if ( is_wp_error( $approved ) || 'spam' === $approved || 'trash' === $approved ) {
			return $approved; // Someone else already refused it: nothing for us to add.
		}
		if ( ! empty( $commentdata['comment_type'] ) && 'comment' !== $commentdata['comment_type'] ) {
			return $approved; // Pingbacks and trackbacks are not readers' comments.
		}
		if ( ! empty( $commentdata['user_id'] ) && user_can( (int) $commentdata['user_id'], 'moderate_comments' ) ) {
			return $approved; // The site's own moderators and editors are trusted, as in core and Akismet.
		}
		if ( ! Moderation_Client::configured() ) {
			return $approved;
		}
		$answer = Moderation_Client::post(
			'/v1/comments',
			self::submission( $commentdata ),
			array( 'Idempotency-Key' => self::idempotency_key( $commentdata ) )
		);
		if ( is_wp_error( $answer ) ) {
			return self::hold_unchecked( $answer->get_error_message() );
		}
		list( $status, $body ) = $answer;
		if ( 201 === $status && is_array( $body ) && isset( $body['id'], $body['decision'] ) ) {
			self::$pending = array(
				'id'       => (int) $body['id'],
				'revision' => 1,
			);
			update_option( 'moderation_last_error', '', false );
			// "Comment must be manually approved" in Settings → Discussion still holds everything.
			if ( 'reject' === $body['decision'] ) {
				return 'spam'; // Near-certain spam the service rejected outright: WordPress's own Spam folder.
			}
			if ( 'publish' === $body['decision'] && ! get_option( 'comment_moderation' ) ) {
				return 1;
			}
			return 0;
		}
		if ( in_array( $status, array( 409, 422, 429 ), true ) && isset( $body['error']['message'] ) ) {
			return self::refusal( $status, $body['error'] );
		}
		/* translators: %d: HTTP status code */
		return self::hold_unchecked( sprintf( __( 'The moderation service answered HTTP %d.', 'moderation' ), $status ) );
	}

	/**
	 * The submission as the service's POST /v1/comments takes it. The e-mail goes only to the service.
	 *
	 * @param array $commentdata The comment.
	 */
	private static function submission( $commentdata ) {
		$post_id = (int) $commentdata['comment_post_ID'];
		$body    = array(
			'article_id'   => wp_make_link_relative( get_permalink( $post_id ) ),
			'author_name'  => (string) $commentdata['comment_author'],
			'author_email' => (string) $commentdata['comment_author_email'],
			'content'      => (string) $commentdata['comment_content'],
			'lang'         => Moderation_Client::language(),
		);
		if ( ! empty( $commentdata['comment_author_url'] ) ) {
			$body['author_url'] = (string) $commentdata['comment_author_url'];
		}
		if ( ! empty( $commentdata['comment_author_IP'] ) ) {
			$body['author_ip'] = (string) $commentdata['comment_author_IP'];
		}
		if ( ! empty( $commentdata['comment_agent'] ) ) {
			$body['user_agent'] = substr( (string) $commentdata['comment_agent'], 0, 500 );
		}
		$parent = empty( $commentdata['comment_parent'] ) ? 0 : (int) $commentdata['comment_parent'];
		$ours   = $parent ? (int) get_comment_meta( $parent, self::META_ID, true ) : 0;
		if ( $ours > 0 ) {
			$body['parent_id'] = $ours;
		}
		return $body;
	}

	/**
	 * The same submission retried gets the same answer, not a second comment.
	 *
	 * @param array $commentdata The comment.
	 */
	private static function idempotency_key( $commentdata ) {
		return 'wp-' . hash(
			'sha256',
			implode(
				"\0",
				array(
					home_url(),
					(string) $commentdata['comment_post_ID'],
					(string) $commentdata['comment_author_email'],
					(string) $commentdata['comment_content'],
					isset( $commentdata['comment_date_gmt'] ) ? (string) $commentdata['comment_date_gmt'] : '',
				)
			)
		);
	}

	/**
	 * The service could not be asked: hold the comment (never publish it unchecked) and say why in wp-admin.
	 *
	 * @param string $why What went wrong.
	 */
	private static function hold_unchecked( $why ) {
		self::$pending = array( 'unchecked' => $why );
		update_option( 'moderation_last_error', gmdate( 'Y-m-d H:i:s' ) . ' UTC: ' . $why, false );
		return 0;
	}

	/**
	 * A 422 (invalid field), 429 (too fast) or 409 (duplicate): the reader sees why, in the site's language
	 * (the service's field messages; WordPress's wording for flood and duplicate), on WordPress's error page
	 * with its "back" link.
	 *
	 * @param int   $status The HTTP status.
	 * @param array $error  The service's error object.
	 */
	private static function refusal( $status, $error ) {
		$messages = array();
		if ( ! empty( $error['fields'] ) && is_array( $error['fields'] ) ) {
			foreach ( $error['fields'] as $problems ) {
				foreach ( (array) $problems as $problem ) {
					if ( isset( $problem['message'] ) ) {
						$messages[] = (string) $problem['message'];
					}
				}
			}
		}
		if ( 429 === $status ) {
			// WordPress's words, translated here (the service says it in English; Debian's id_ID pack misses it).
			/** This filter is documented in wp-includes/comment-template.php */
			return new WP_Error( 'comment_flood', apply_filters( 'comment_flood_message', __( 'You are posting comments too quickly. Slow down.', 'moderation' ) ), 429 );
		}
		if ( 409 === $status ) {
			return new WP_Error( 'comment_duplicate', __( 'Duplicate comment detected; it looks as though you&#8217;ve already said that!', 'moderation' ), 409 );
		}
		$text = $messages ? implode( ' ', $messages ) : (string) $error['message'];
		return new WP_Error( 'moderation_invalid', esc_html( $text ), $status );
	}

	/**
	 * The comment now has an ID: keep the service's id and revision with it.
	 *
	 * @param int $comment_id The new comment's ID.
	 */
	public static function remember( $comment_id ) {
		if ( null === self::$pending ) {
			return;
		}
		if ( isset( self::$pending['id'] ) ) {
			add_comment_meta( $comment_id, self::META_ID, self::$pending['id'], true );
			add_comment_meta( $comment_id, self::META_REVISION, self::$pending['revision'], true );
		} else {
			add_comment_meta( $comment_id, self::META_UNCHECKED, self::$pending['unchecked'], true );
			self::schedule_recheck();
		}
		self::$pending = null;
	}

	/**
	 * Try again later (WP-Cron) to send what the service could not check.
	 */
	private static function schedule_recheck() {
		self::schedule( self::RECHECK_HOOK );
	}

	/**
	 * One pending WP-Cron event per hook, a few minutes from now.
	 *
	 * @param string $hook The cron hook.
	 */
	private static function schedule( $hook ) {
		if ( ! wp_next_scheduled( $hook ) ) {
			wp_schedule_single_event( time() + self::RECHECK_DELAY, $hook );
		}
	}

	/**
	 * The oldest comments (a cron batch) that carry ``$meta_key``: held unchecked, or with a decision unsent.
	 *
	 * @param string $meta_key The comment meta key.
	 * @return string[]
	 */
	private static function marked_batch( $meta_key ) {
		global $wpdb;
		return $wpdb->get_col(
			$wpdb->prepare(
				"SELECT comment_id FROM {$wpdb->commentmeta} WHERE meta_key = %s ORDER BY comment_id LIMIT %d",
				$meta_key,
				self::RECHECK_BATCH
			)
		);
	}

	/**
	 * Send the comments held unchecked that still wait for a decision, so they reach /moderate too; the
	 * service's decision is applied as if it had answered at once. Comments a moderator already decided
	 * in wp-admin are left as they are.
	 */
	public static function recheck() {
		$ids = self::marked_batch( self::META_UNCHECKED );
		foreach ( $ids as $comment_id ) {
			$comment = get_comment( (int) $comment_id, ARRAY_A );
			if ( ! $comment || 'unapproved' !== wp_get_comment_status( (int) $comment_id ) ) {
				delete_comment_meta( (int) $comment_id, self::META_UNCHECKED );
				continue;
			}
			$answer = Moderation_Client::post(
				'/v1/comments',
				self::submission( $comment ),
				array( 'Idempotency-Key' => self::idempotency_key( $comment ) )
			);
			$status = is_wp_error( $answer ) ? 0 : $answer[0];
			if ( 0 === $status || 429 === $status || $status >= 500 ) {
				self::schedule_recheck(); // Still unreachable (or busy): the rest waits for the next attempt.
				return;
			}
			delete_comment_meta( (int) $comment_id, self::META_UNCHECKED );
			$body = $answer[1];
			if ( 201 !== $status || ! isset( $body['id'], $body['decision'] ) ) {
				$why = isset( $body['error']['message'] ) ? (string) $body['error']['message'] : 'HTTP ' . $status;
				update_comment_meta( (int) $comment_id, self::META_CONFLICT, $why );
				continue;
			}
			add_comment_meta( (int) $comment_id, self::META_ID, (int) $body['id'], true );
			add_comment_meta( (int) $comment_id, self::META_REVISION, 1, true );
			if ( 'reject' === $body['decision'] ) {
				Moderation_Webhook::apply_status( (int) $comment_id, 'spam' );
			} elseif ( 'publish' === $body['decision'] && ! get_option( 'comment_moderation' ) ) {
				Moderation_Webhook::apply_status( (int) $comment_id, 'approve' );
			}
		}
		if ( count( $ids ) === self::RECHECK_BATCH ) {
			self::schedule_recheck(); // More are waiting.
		}
		update_option( 'moderation_last_error', '', false );
	}

	/**
	 * A moderator approved, unapproved, spammed or trashed a comment in WordPress (or undid a spam or
	 * trash): the service records the same decision (a training label, an audit event), so /moderate and
	 * wp-admin agree.
	 *
	 * @param string     $new_status The new status (approved, unapproved, spam, trash).
	 * @param string     $old_status The old status.
	 * @param WP_Comment $comment    The comment.
	 */
	public static function sync_decision( $new_status, $old_status, $comment ) {
		if ( Moderation_Webhook::applying() || $new_status === $old_status ) {
			return; // The service told us this: it knows already.
		}
		$ours = (int) get_comment_meta( $comment->comment_ID, self::META_ID, true );
		$map  = array(
			'approved'   => 'approved',
			'unapproved' => 'unapproved',
			'spam'       => 'spam',
			'trash'      => 'trash',
		);
		if ( $ours <= 0 || ! isset( $map[ $new_status ] ) || ! Moderation_Client::configured() ) {
			return;
		}
		$user     = wp_get_current_user();
		$decision = array(
			'status' => $map[ $new_status ],
			'note'   => $user && $user->ID ? 'wp-admin: user #' . $user->ID : 'WordPress',
		);
		if ( ! self::send_decision( (int) $comment->comment_ID, $ours, $decision ) ) {
			// Unreachable or busy: kept with the comment and sent again by WP-Cron, newest decision only.
			update_comment_meta( $comment->comment_ID, self::META_UNSENT, $decision );
			self::schedule( self::RESEND_HOOK );
		}
	}

	/**
	 * Send one wp-admin decision to the service. True when the service answered it for good: recorded
	 * (200) or refused because it was decided differently there meanwhile (409, kept as a conflict).
	 * False when it should be sent again: no answer, 429 or a server error.
	 *
	 * @param int   $comment_id WordPress's comment ID.
	 * @param int   $ours       The service's comment id.
	 * @param array $decision   The status and note to send.
	 */
	private static function send_decision( $comment_id, $ours, $decision ) {
		$answer = Moderation_Client::post(
			'/v1/comments/' . $ours . '/status',
			array(
				'status'   => $decision['status'],
				'revision' => max( 1, (int) get_comment_meta( $comment_id, self::META_REVISION, true ) ),
				'note'     => $decision['note'],
			)
		);
		$status = is_wp_error( $answer ) ? 0 : $answer[0];
		if ( 0 === $status || 429 === $status || $status >= 500 ) {
			$why = is_wp_error( $answer ) ? $answer->get_error_message() : 'HTTP ' . $status;
			update_option( 'moderation_last_error', gmdate( 'Y-m-d H:i:s' ) . ' UTC: ' . $why, false );
			return false;
		}
		delete_comment_meta( $comment_id, self::META_UNSENT );
		$body = $answer[1];
		if ( 200 === $status && isset( $body['revision'] ) ) {
			update_comment_meta( $comment_id, self::META_REVISION, (int) $body['revision'] );
			delete_comment_meta( $comment_id, self::META_CONFLICT );
			return true;
		}
		// 409: decided differently on /moderate meanwhile; its webhook brings this comment in line.
		$why = isset( $body['error']['message'] ) ? (string) $body['error']['message'] : 'HTTP ' . $status;
		update_comment_meta( $comment_id, self::META_CONFLICT, $why );
		return true;
	}

	/**
	 * WP-Cron: send again the wp-admin decisions the service did not receive, oldest comment first; stop
	 * at the first that still fails and try again later.
	 */
	public static function resend() {
		$ids = self::marked_batch( self::META_UNSENT );
		foreach ( $ids as $comment_id ) {
			$decision = get_comment_meta( (int) $comment_id, self::META_UNSENT, true );
			$ours     = (int) get_comment_meta( (int) $comment_id, self::META_ID, true );
			if ( ! is_array( $decision ) || ! isset( $decision['status'], $decision['note'] ) || $ours <= 0 ) {
				delete_comment_meta( (int) $comment_id, self::META_UNSENT );
				continue;
			}
			if ( ! self::send_decision( (int) $comment_id, $ours, $decision ) ) {
				self::schedule( self::RESEND_HOOK );
				return;
			}
		}
		if ( count( $ids ) === self::RECHECK_BATCH ) {
			self::schedule( self::RESEND_HOOK ); // More are waiting.
		}
		update_option( 'moderation_last_error', '', false );
	}
}
