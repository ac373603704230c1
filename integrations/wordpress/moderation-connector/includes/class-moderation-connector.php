<?php
/**
 * The plugin object: settings, shared meta keys, logging and the hooks of every part.
 *
 * @package Moderation_Connector
 */

defined( 'ABSPATH' ) || exit;

/**
 * Owns the settings and wires the submission, feedback, webhook and settings-page parts together.
 */
final class Moderation_Connector {

	const OPTION = 'moderation_connector_settings';

	/** Our comment id, as returned by POST /v1/comments. */
	const META_ID = '_moderation_id';

	/** The idempotency key sent as client_comment_id. */
	const META_CLIENT_ID = '_moderation_client_id';

	/** The service's automatic decision (approve, hold, reject), or "unchecked" when it could not be asked. */
	const META_DECISION = '_moderation_decision';

	/** The primary reason code of that decision. */
	const META_REASON = '_moderation_reason';

	/** The last status a webhook reported (approved, rejected, held). */
	const META_STATUS = '_moderation_status';

	/** The last label reported back as feedback. */
	const META_FEEDBACK = '_moderation_feedback';

	/** Comment meta: the sequence number of the last webhook event applied to the comment. */
	const META_SEQUENCE = '_moderation_sequence';

	/**
	 * The single instance.
	 *
	 * @var Moderation_Connector|null
	 */
	private static $instance = null;

	/**
	 * True while a webhook applies the service's status, so the change is not reported back.
	 *
	 * @var bool
	 */
	private $applying_remote_status = false;

	/**
	 * Return the plugin object.
	 *
	 * @return Moderation_Connector
	 */
	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/**
	 * Register the hooks of every part of the plugin.
	 */
	public function register_hooks() {
		( new Moderation_Connector_Comments( $this ) )->register_hooks();
		( new Moderation_Connector_Feedback( $this ) )->register_hooks();
		( new Moderation_Connector_Webhook( $this ) )->register_hooks();
		( new Moderation_Connector_Settings_Page( $this ) )->register_hooks();
	}

	/**
	 * The settings a fresh install starts with.
	 *
	 * @return array
	 */
	public static function defaults() {
		return array(
			'service_url'    => '',
			'client_key'     => '',
			'webhook_secret' => '',
			'timeout'        => 2.0,
			'trash_toxic'    => false,
		);
	}

	/**
	 * The saved settings, completed with the defaults.
	 *
	 * @return array
	 */
	public function settings() {
		$saved = get_option( self::OPTION, array() );
		return wp_parse_args( is_array( $saved ) ? $saved : array(), self::defaults() );
	}

	/**
	 * A client for the service, configured from the current settings.
	 *
	 * @return Moderation_Connector_Client
	 */
	public function client() {
		return new Moderation_Connector_Client( $this->settings() );
	}

	/**
	 * Run a status change that came from the service without reporting it back as feedback.
	 *
	 * @param callable $change The change to make.
	 * @return mixed What the change returned.
	 */
	public function apply_remote_status( callable $change ) {
		$this->applying_remote_status = true;
		try {
			return $change();
		} finally {
			$this->applying_remote_status = false;
		}
	}

	/**
	 * Whether the status change in progress came from the service's webhook.
	 *
	 * @return bool
	 */
	public function is_applying_remote_status() {
		return $this->applying_remote_status;
	}

	/**
	 * Write a line to the PHP error log (never the commenter's email or text) and announce it.
	 *
	 * @param string $message What went wrong.
	 */
	public static function log( $message ) {
		// phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log -- failures must reach the server log.
		error_log( 'moderation-connector: ' . $message );

		/**
		 * Fires when the connector logs a failure, e.g. to forward it to a monitoring plugin.
		 *
		 * @param string $message What went wrong.
		 */
		do_action( 'moderation_connector_log', $message );
	}
}
