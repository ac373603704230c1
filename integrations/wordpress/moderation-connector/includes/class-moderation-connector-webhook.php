<?php
/**
 * The REST route that receives the service's signed webhooks and applies a moderator's decision.
 *
 * @package Moderation_Connector
 */

defined( 'ABSPATH' ) || exit;

/**
 * POST /wp-json/moderation/v1/webhook: verify, deduplicate, drop stale events, find the comment, set its status.
 */
class Moderation_Connector_Webhook {

	const REST_NAMESPACE = 'moderation/v1';
	const ROUTE          = '/webhook';

	/** Seconds a signature timestamp may differ from this server's clock. */
	const TOLERANCE = 300;

	/** Prefix of the transient that marks a delivery id as processed. */
	const DELIVERY_TRANSIENT = 'moderation_connector_delivery_';

	/** Seconds a processed delivery id is remembered; the service retries at least hourly. */
	const DELIVERY_TTL = 604800;

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
		add_action( 'rest_api_init', array( $this, 'register_route' ) );
	}

	/**
	 * The URL to set as MODERATION_WEBHOOK_URL on the service.
	 *
	 * @return string
	 */
	public static function url() {
		return rest_url( self::REST_NAMESPACE . self::ROUTE );
	}

	/**
	 * Register the route; only a valid signature gets past the permission check.
	 */
	public function register_route() {
		register_rest_route(
			self::REST_NAMESPACE,
			self::ROUTE,
			array(
				'methods'             => 'POST',
				'callback'            => array( $this, 'handle' ),
				'permission_callback' => array( $this, 'verify_signature' ),
			)
		);
	}

	/**
	 * Check the HMAC-SHA256 of "<timestamp>.<raw body>" and the timestamp's freshness.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return true|WP_Error
	 */
	public function verify_signature( $request ) {
		$settings = $this->plugin->settings();
		$secret   = (string) $settings['webhook_secret'];
		if ( '' === $secret ) {
			Moderation_Connector::log( 'webhook refused: no webhook secret is set' );
			return new WP_Error( 'moderation_webhook_not_configured', __( 'No webhook secret is configured.', 'moderation-connector' ), array( 'status' => 503 ) );
		}
		$timestamp = (string) $request->get_header( 'x_moderation_timestamp' );
		$signature = (string) $request->get_header( 'x_moderation_signature' );
		if ( ! ctype_digit( $timestamp ) || abs( time() - (int) $timestamp ) > self::TOLERANCE ) {
			return new WP_Error( 'moderation_webhook_stale', __( 'Missing or stale timestamp.', 'moderation-connector' ), array( 'status' => 401 ) );
		}
		$expected = 'sha256=' . hash_hmac( 'sha256', $timestamp . '.' . $request->get_body(), $secret );
		if ( ! hash_equals( $expected, $signature ) ) {
			return new WP_Error( 'moderation_webhook_bad_signature', __( 'Invalid signature.', 'moderation-connector' ), array( 'status' => 401 ) );
		}
		return true;
	}

	/**
	 * Apply a comment.status_changed event; every other event is acknowledged and ignored.
	 *
	 * Answers 2xx once the event is applied or known to be moot (so the service stops retrying),
	 * and 500 only when WordPress failed to change the status (so it tries again).
	 *
	 * @param WP_REST_Request $request The verified request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function handle( $request ) {
		$event = json_decode( $request->get_body(), true );
		if ( ! is_array( $event ) ) {
			return new WP_Error( 'moderation_webhook_bad_body', __( 'The body is not a JSON object.', 'moderation-connector' ), array( 'status' => 400 ) );
		}
		if ( ! isset( $event['event'] ) || 'comment.status_changed' !== $event['event'] ) {
			return new WP_REST_Response( array( 'result' => 'ignored' ), 200 );
		}

		$delivery = (string) $request->get_header( 'x_moderation_delivery' );
		$seen_key = ctype_digit( $delivery ) ? self::DELIVERY_TRANSIENT . $delivery : '';
		if ( '' !== $seen_key && false !== get_transient( $seen_key ) ) {
			return new WP_REST_Response( array( 'result' => 'duplicate' ), 200 );
		}

		$comment_id = $this->find_comment( $event );
		$target     = $this->target_status( $event );
		if ( ! $comment_id || null === $target ) {
			Moderation_Connector::log( sprintf( 'webhook delivery %s ignored: unknown comment or status', $delivery ) );
			$this->mark_processed( $seen_key );
			return new WP_REST_Response( array( 'result' => 'ignored' ), 200 );
		}

		// The delivery id is not signed, but the sequence is: a captured event re-sent under a new
		// delivery id, or one that arrives after a later decision, is older than what we applied.
		$sequence = isset( $event['sequence'] ) && is_int( $event['sequence'] ) ? $event['sequence'] : null;
		$applied  = (int) get_comment_meta( $comment_id, Moderation_Connector::META_SEQUENCE, true );
		if ( null !== $sequence && $sequence <= $applied ) {
			Moderation_Connector::log( sprintf( 'webhook delivery %s ignored: sequence %d is not after %d', $delivery, $sequence, $applied ) );
			$this->mark_processed( $seen_key );
			return new WP_REST_Response( array( 'result' => 'stale' ), 200 );
		}

		$current = wp_get_comment_status( $comment_id );
		$wanted  = array(
			'approve' => 'approved',
			'hold'    => 'unapproved',
			'spam'    => 'spam',
			'trash'   => 'trash',
		);
		if ( $current !== $wanted[ $target ] ) {
			$changed = $this->plugin->apply_remote_status(
				static function () use ( $comment_id, $target ) {
					return wp_set_comment_status( $comment_id, $target );
				}
			);
			if ( ! $changed ) {
				Moderation_Connector::log( sprintf( 'webhook delivery %s: could not set comment %d to %s', $delivery, $comment_id, $target ) );
				return new WP_Error( 'moderation_webhook_not_applied', __( 'The comment status could not be changed.', 'moderation-connector' ), array( 'status' => 500 ) );
			}
		}
		update_comment_meta( $comment_id, Moderation_Connector::META_STATUS, (string) $event['status'] );
		if ( null !== $sequence ) {
			update_comment_meta( $comment_id, Moderation_Connector::META_SEQUENCE, $sequence );
		}
		$this->mark_processed( $seen_key );

		return new WP_REST_Response(
			array(
				'result'  => $current === $wanted[ $target ] ? 'unchanged' : 'applied',
				'comment' => $comment_id,
				'status'  => $wanted[ $target ],
			),
			200
		);
	}

	/**
	 * The WordPress comment the event is about: by our id, else by the client_comment_id we sent.
	 *
	 * @param array $event The event.
	 * @return int The comment id, 0 when there is none.
	 */
	private function find_comment( array $event ) {
		$lookups = array(
			Moderation_Connector::META_ID        => isset( $event['comment_id'] ) ? $event['comment_id'] : null,
			Moderation_Connector::META_CLIENT_ID => isset( $event['client_comment_id'] ) ? $event['client_comment_id'] : null,
		);
		foreach ( $lookups as $meta_key => $value ) {
			if ( ! is_string( $value ) || '' === $value ) {
				continue;
			}
			$found = get_comments(
				array(
					'meta_key'   => $meta_key, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key -- one indexed lookup per webhook.
					'meta_value' => $value, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_value
					'status'     => 'any',
					'number'     => 1,
					'fields'     => 'ids',
				)
			);
			if ( ! empty( $found ) ) {
				return (int) $found[0];
			}
		}
		return 0;
	}

	/**
	 * The wp_set_comment_status() value for the event's status, or null for one we do not know.
	 *
	 * @param array $event The event.
	 * @return string|null
	 */
	private function target_status( array $event ) {
		$status = isset( $event['status'] ) ? $event['status'] : null;
		if ( 'approved' === $status ) {
			return 'approve';
		}
		if ( 'held' === $status ) {
			return 'hold';
		}
		if ( 'rejected' === $status ) {
			$settings = $this->plugin->settings();
			$toxic    = isset( $event['label'] ) && 'toxic' === $event['label'];
			return $toxic && ! empty( $settings['trash_toxic'] ) ? 'trash' : 'spam';
		}
		return null;
	}

	/**
	 * Remember a delivery id so a retry of the same event is not applied twice.
	 *
	 * @param string $seen_key The transient name, '' when the delivery had no usable id.
	 */
	private function mark_processed( $seen_key ) {
		if ( '' !== $seen_key ) {
			set_transient( $seen_key, time(), self::DELIVERY_TTL );
		}
	}
}
