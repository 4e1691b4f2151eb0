<?php
/**
 * Plugin Name:       Moderation
 * Description:       Sends every comment to your self-hosted moderation service before WordPress stores it, applies the moderators' decisions from its webhooks, and tells it about the decisions you make here.
 * Version:           1.0.0
 * Requires at least: 6.1
 * Requires PHP:      7.4
 * License:           MIT
 * Text Domain:       moderation
 * Domain Path:       /languages
 *
 * @package Moderation
 */

defined( 'ABSPATH' ) || exit;

define( 'MODERATION_PLUGIN_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-moderation-client.php';
require_once __DIR__ . '/includes/class-moderation-comments.php';
require_once __DIR__ . '/includes/class-moderation-webhook.php';
require_once __DIR__ . '/includes/class-moderation-settings.php';

add_action(
	'plugins_loaded',
	function () {
		load_plugin_textdomain( 'moderation', false, dirname( plugin_basename( MODERATION_PLUGIN_FILE ) ) . '/languages' );
	}
);

Moderation_Comments::register();
Moderation_Webhook::register();
Moderation_Settings::register();
