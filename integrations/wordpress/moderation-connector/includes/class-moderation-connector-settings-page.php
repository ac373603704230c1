<?php
/**
 * Settings → Moderation: service URL, client key, webhook secret, timeout, toxic comments to trash.
 *
 * @package Moderation_Connector
 */

defined( 'ABSPATH' ) || exit;

/**
 * Renders the page and saves it through admin-post.php with a nonce and a capability check.
 */
class Moderation_Connector_Settings_Page {

	const SLUG       = 'moderation-connector';
	const ACTION     = 'moderation_connector_save';
	const CAPABILITY = 'manage_options';

	/**
	 * The plugin object.
	 *
	 * @var Moderation_Connector
	 */
	private $plugin;

	/**
	 * Bind to the plugin object.
	 *
	 * @param Moderation_Connector $plugin The plugin object.
	 */
	public function __construct( Moderation_Connector $plugin ) {
		$this->plugin = $plugin;
	}

	/**
	 * Register the hooks.
	 */
	public function register_hooks() {
		add_action( 'admin_menu', array( $this, 'add_page' ) );
		add_action( 'admin_post_' . self::ACTION, array( $this, 'save' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( MODERATION_CONNECTOR_FILE ), array( $this, 'add_settings_link' ) );
	}

	/**
	 * Add Settings → Moderation.
	 */
	public function add_page() {
		add_options_page(
			__( 'Moderation', 'moderation-connector' ),
			__( 'Moderation', 'moderation-connector' ),
			self::CAPABILITY,
			self::SLUG,
			array( $this, 'render' )
		);
	}

	/**
	 * Link to the page from the plugins list.
	 *
	 * @param array $links The plugin's action links.
	 * @return array
	 */
	public function add_settings_link( $links ) {
		$links[] = sprintf( '<a href="%s">%s</a>', esc_url( self::page_url() ), esc_html__( 'Settings', 'moderation-connector' ) );
		return $links;
	}

	/**
	 * The page's address.
	 *
	 * @return string
	 */
	public static function page_url() {
		return admin_url( 'options-general.php?page=' . self::SLUG );
	}

	/**
	 * Print the page. The client key and the secret are never printed back: blank keeps them.
	 */
	public function render() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage these settings.', 'moderation-connector' ), '', array( 'response' => 403 ) );
		}
		$settings = $this->plugin->settings();
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only chooses which notice to show.
		$updated = isset( $_GET['updated'] );
		?>
		<div class="wrap">
			<h1><?php esc_html_e( 'Moderation', 'moderation-connector' ); ?></h1>
			<?php if ( $updated ) : ?>
				<div class="notice notice-success is-dismissible"><p><?php esc_html_e( 'Settings saved.', 'moderation-connector' ); ?></p></div>
			<?php endif; ?>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
				<input type="hidden" name="action" value="<?php echo esc_attr( self::ACTION ); ?>" />
				<?php wp_nonce_field( self::ACTION ); ?>
				<table class="form-table" role="presentation">
					<tr>
						<th scope="row"><label for="moderation-service-url"><?php esc_html_e( 'Service URL', 'moderation-connector' ); ?></label></th>
						<td>
							<input type="url" class="regular-text code" id="moderation-service-url" name="service_url" value="<?php echo esc_attr( $settings['service_url'] ); ?>" placeholder="https://moderation.example.org" />
							<p class="description"><?php esc_html_e( 'The address of the moderation service, without /v1.', 'moderation-connector' ); ?></p>
						</td>
					</tr>
					<tr>
						<th scope="row"><label for="moderation-client-key"><?php esc_html_e( 'Client key', 'moderation-connector' ); ?></label></th>
						<td>
							<input type="password" class="regular-text code" id="moderation-client-key" name="client_key" value="" autocomplete="off" placeholder="<?php echo esc_attr( '' === $settings['client_key'] ? '' : __( 'Saved; leave blank to keep it', 'moderation-connector' ) ); ?>" />
							<p class="description"><?php esc_html_e( 'A key with the client role: moderation keys create --role client --name "My blog".', 'moderation-connector' ); ?></p>
						</td>
					</tr>
					<tr>
						<th scope="row"><label for="moderation-webhook-secret"><?php esc_html_e( 'Webhook secret', 'moderation-connector' ); ?></label></th>
						<td>
							<input type="password" class="regular-text code" id="moderation-webhook-secret" name="webhook_secret" value="" autocomplete="off" placeholder="<?php echo esc_attr( '' === $settings['webhook_secret'] ? '' : __( 'Saved; leave blank to keep it', 'moderation-connector' ) ); ?>" />
							<p class="description">
								<?php esc_html_e( 'The same value as MODERATION_WEBHOOK_SECRET on the service. Set MODERATION_WEBHOOK_URL there to:', 'moderation-connector' ); ?>
								<code><?php echo esc_html( Moderation_Connector_Webhook::url() ); ?></code>
							</p>
						</td>
					</tr>
					<tr>
						<th scope="row"><label for="moderation-timeout"><?php esc_html_e( 'Timeout (seconds)', 'moderation-connector' ); ?></label></th>
						<td>
							<input type="number" class="small-text" id="moderation-timeout" name="timeout" min="0.5" max="10" step="0.5" value="<?php echo esc_attr( (string) $settings['timeout'] ); ?>" />
							<p class="description"><?php esc_html_e( 'A comment the service does not answer in time is held for moderation, never published unchecked.', 'moderation-connector' ); ?></p>
						</td>
					</tr>
					<tr>
						<th scope="row"><?php esc_html_e( 'Toxic comments', 'moderation-connector' ); ?></th>
						<td>
							<label for="moderation-trash-toxic">
								<input type="checkbox" id="moderation-trash-toxic" name="trash_toxic" value="1" <?php checked( ! empty( $settings['trash_toxic'] ) ); ?> />
								<?php esc_html_e( 'Move comments rejected for toxicity to the trash instead of spam', 'moderation-connector' ); ?>
							</label>
						</td>
					</tr>
				</table>
				<?php submit_button(); ?>
			</form>
		</div>
		<?php
	}

	/**
	 * Save the form: capability, then nonce, then sanitized values; back to the page.
	 */
	public function save() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage these settings.', 'moderation-connector' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::ACTION );

		$input = array();
		foreach ( array( 'service_url', 'client_key', 'webhook_secret', 'timeout', 'trash_toxic' ) as $name ) {
			if ( isset( $_POST[ $name ] ) && is_string( $_POST[ $name ] ) ) {
				// phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- sanitize() cleans each field for its kind.
				$input[ $name ] = wp_unslash( $_POST[ $name ] );
			}
		}
		update_option( Moderation_Connector::OPTION, self::sanitize( $input, $this->plugin->settings() ) );

		wp_safe_redirect( add_query_arg( 'updated', '1', self::page_url() ) );
		exit;
	}

	/**
	 * Clean submitted values; a blank client key or secret keeps the saved one.
	 *
	 * Keys and secrets lose only whitespace and control characters: sanitize_text_field() would
	 * also drop anything that looks like a percent-encoded octet and so change a random secret.
	 *
	 * @param array $input   The submitted values, unslashed.
	 * @param array $current The saved settings.
	 * @return array
	 */
	public static function sanitize( array $input, array $current ) {
		$url     = isset( $input['service_url'] ) ? esc_url_raw( trim( $input['service_url'] ), array( 'http', 'https' ) ) : '';
		$timeout = isset( $input['timeout'] ) && is_numeric( $input['timeout'] ) ? (float) $input['timeout'] : 2.0;
		$token   = static function ( $name ) use ( $input, $current ) {
			$value = isset( $input[ $name ] ) ? preg_replace( '/[\x00-\x20\x7f]/', '', (string) $input[ $name ] ) : '';
			return '' === $value ? $current[ $name ] : $value;
		};

		return array(
			'service_url'    => untrailingslashit( $url ),
			'client_key'     => $token( 'client_key' ),
			'webhook_secret' => $token( 'webhook_secret' ),
			'timeout'        => min( 10.0, max( 0.5, $timeout ) ),
			'trash_toxic'    => ! empty( $input['trash_toxic'] ),
		);
	}
}
