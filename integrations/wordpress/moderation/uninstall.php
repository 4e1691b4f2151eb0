<?php
/**
 * Deleting the plugin removes its options, the service's ids kept with comments (the comments stay) and its
 * pending WP-Cron retries.
 *
 * @package Moderation
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

foreach ( array( 'moderation_service_url', 'moderation_site_key', 'moderation_webhook_secret', 'moderation_timeout', 'moderation_last_error' ) as $option ) {
	delete_option( $option );
}
foreach ( array( '_moderation_id', '_moderation_revision', '_moderation_unchecked', '_moderation_conflict', '_moderation_unsent' ) as $meta_key ) {
	delete_metadata( 'comment', 0, $meta_key, '', true );
}
foreach ( array( 'moderation_recheck', 'moderation_resend' ) as $hook ) {
	wp_clear_scheduled_hook( $hook );
}
