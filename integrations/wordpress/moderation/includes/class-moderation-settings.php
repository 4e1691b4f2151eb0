<?php
/**
 * Settings → Moderation: the service URL, the site key, the webhook secret and the timeout.
 *
 * @package Moderation
 */

defined( 'ABSPATH' ) || exit;

/**
 * The settings page. Saved through options.php (the Settings API checks the nonce and manage_options).
 */
class Moderation_Settings {

	const PAGE = 'moderation';

	/**
	 * Hook in.
	 */
	public static function register() {
		add_action( 'admin_init', array( __CLASS__, 'settings' ) );
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( MODERATION_PLUGIN_FILE ), array( __CLASS__, 'action_link' ) );
	}

	/**
	 * The options, each with its sanitiser.
	 */
	public static function settings() {
		register_setting(
			self::PAGE,
			'moderation_service_url',
			array(
				'type'              => 'string',
				'sanitize_callback' => array( __CLASS__, 'sanitize_url' ),
				'default'           => '',
			)
		);
		register_setting(
			self::PAGE,
			'moderation_site_key',
			array(
				'type'              => 'string',
				'sanitize_callback' => array( __CLASS__, 'sanitize_token' ),
				'default'           => '',
			)
		);
		register_setting(
			self::PAGE,
			'moderation_webhook_secret',
			array(
				'type'              => 'string',
				'sanitize_callback' => array( __CLASS__, 'sanitize_token' ),
				'default'           => '',
			)
		);
		register_setting(
			self::PAGE,
			'moderation_timeout',
			array(
				'type'              => 'number',
				'sanitize_callback' => array( __CLASS__, 'sanitize_timeout' ),
				'default'           => Moderation_Client::DEFAULT_TIMEOUT,
			)
		);
	}

	/**
	 * An http(s) URL without a trailing slash.
	 *
	 * @param mixed $value The submitted value.
	 */
	public static function sanitize_url( $value ) {
		$url = esc_url_raw( trim( (string) $value ), array( 'http', 'https' ) );
		return untrailingslashit( $url );
	}

	/**
	 * Keys and secrets are printable ASCII without spaces.
	 *
	 * @param mixed $value The submitted value.
	 */
	public static function sanitize_token( $value ) {
		return preg_replace( '/[^\x21-\x7e]/', '', (string) $value );
	}

	/**
	 * Between half a second and 30 seconds.
	 *
	 * @param mixed $value The submitted value.
	 */
	public static function sanitize_timeout( $value ) {
		$timeout = (float) $value;
		return $timeout >= 0.5 && $timeout <= 30 ? $timeout : Moderation_Client::DEFAULT_TIMEOUT;
	}

	/**
	 * Settings → Moderation, for those who may manage options.
	 */
	public static function menu() {
		add_options_page(
			__( 'Comment moderation', 'moderation' ),
			__( 'Moderation', 'moderation' ),
			'manage_options',
			self::PAGE,
			array( __CLASS__, 'render' )
		);
	}

	/**
	 * A "Settings" link on the Plugins screen.
	 *
	 * @param array $links The plugin's links.
	 */
	public static function action_link( $links ) {
		$url = admin_url( 'options-general.php?page=' . self::PAGE );
		array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'moderation' ) . '</a>' );
		return $links;
	}

	/**
	 * The page.
	 */
	public static function render() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage these settings.', 'moderation' ) );
		}
		$last_error = (string) get_option( 'moderation_last_error', '' );
		?>
		<div class="wrap">
			<h1><?php echo esc_html__( 'Comment moderation', 'moderation' ); ?></h1>
			<p><?php echo esc_html__( 'Every new comment is sent to your moderation service before it is stored. Comments it publishes appear at once; the others wait in the moderation queue, here and on the service\'s /moderate page. If the service cannot be reached in time, the comment waits too.', 'moderation' ); ?></p>
			<?php if ( '' !== $last_error ) : ?>
				<div class="notice notice-warning inline"><p>
					<?php
					/* translators: %s: the last error, with its time */
					echo esc_html( sprintf( __( 'Last problem reaching the service: %s', 'moderation' ), $last_error ) );
					?>
				</p></div>
			<?php endif; ?>
			<form method="post" action="options.php">
				<?php settings_fields( self::PAGE ); ?>
				<table class="form-table" role="presentation">
					<tr>
						<th scope="row"><label for="moderation_service_url"><?php echo esc_html__( 'Service URL', 'moderation' ); ?></label></th>
						<td><input name="moderation_service_url" id="moderation_service_url" type="url" class="regular-text code" value="<?php echo esc_attr( get_option( 'moderation_service_url', '' ) ); ?>" placeholder="https://moderation.example.co.id">
						<p class="description"><?php echo esc_html__( 'Where the moderation service answers, without a trailing slash.', 'moderation' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><label for="moderation_site_key"><?php echo esc_html__( 'Site key', 'moderation' ); ?></label></th>
						<td><input name="moderation_site_key" id="moderation_site_key" type="password" autocomplete="off" class="regular-text code" value="<?php echo esc_attr( get_option( 'moderation_site_key', '' ) ); ?>">
						<p class="description"><?php echo esc_html__( 'Printed once by: moderation keys create --role site --site YOUR-SITE', 'moderation' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><label for="moderation_webhook_secret"><?php echo esc_html__( 'Webhook secret', 'moderation' ); ?></label></th>
						<td><input name="moderation_webhook_secret" id="moderation_webhook_secret" type="password" autocomplete="off" class="regular-text code" value="<?php echo esc_attr( get_option( 'moderation_webhook_secret', '' ) ); ?>">
						<p class="description">
							<?php echo esc_html__( 'Printed once by the command below. With it, decisions made on /moderate reach this site.', 'moderation' ); ?><br>
							<code>moderation sites set-webhook --site YOUR-SITE --url <?php echo esc_html( Moderation_Webhook::url() ); ?></code>
						</p></td>
					</tr>
					<tr>
						<th scope="row"><label for="moderation_timeout"><?php echo esc_html__( 'Timeout (seconds)', 'moderation' ); ?></label></th>
						<td><input name="moderation_timeout" id="moderation_timeout" type="number" min="0.5" max="30" step="0.5" class="small-text" value="<?php echo esc_attr( get_option( 'moderation_timeout', Moderation_Client::DEFAULT_TIMEOUT ) ); ?>">
						<p class="description"><?php echo esc_html__( 'How long a reader waits for the service before the comment is held for review.', 'moderation' ); ?></p></td>
					</tr>
				</table>
				<?php submit_button(); ?>
			</form>
		</div>
		<?php
	}
}
