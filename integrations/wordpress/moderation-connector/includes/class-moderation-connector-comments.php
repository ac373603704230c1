<?php
/**
 * New comments: ask the service, turn its decision into WordPress's, remember our id, tell the commenter.
 *
 * @package Moderation_Connector
 */

defined( 'ABSPATH' ) || exit;

/**
 * Hooks pre_comment_approved, comment_post, comment_post_redirect and comment_form_before.
 */
class Moderation_Connector_Comments {

	/** Query argument that carries the notice token on the redirect after posting. */
	const NOTICE_ARG = 'moderation_notice';

	/** Prefix of the transient holding the commenter-safe message for a token. */
	const NOTICE_TRANSIENT = 'moderation_connector_notice_';

	/** Seconds a notice stays readable after the redirect. */
	const NOTICE_TTL = 600;

	/** Seconds in which re-sending the same comment reuses its idempotency key. */
	const IDEMPOTENCY_WINDOW = 3600;

	/**
	 * The plugin object.
	 *
	 * @var Moderation_Connector
	 */
	private $plugin;

	/**
	 * The outcome for the comment being submitted in this request, until it is inserted and redirected.
	 *
	 * @var array|null
	 */
	private $pending = null;

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
		// After other plugins at the default priority, so their spam verdicts stand without a call to us.
		add_filter( 'pre_comment_approved', array( $this, 'moderate' ), 20, 2 );
		add_action( 'comment_post', array( $this, 'remember' ), 10, 3 );
		add_filter( 'comment_post_redirect', array( $this, 'add_notice_to_redirect' ), 10, 2 );
		add_action( 'comment_form_before', array( $this, 'print_notice' ) );
	}

	/**
	 * Decide a new comment's status: 1, 0, 'spam', 'trash', or a WP_Error for duplicates and floods.
	 *
	 * WordPress's own verdict is never loosened: spam, trash and errors stand without asking the
	 * service, and a comment WordPress holds stays held even when the service approves it.
	 *
	 * @param int|string|WP_Error $approved    WordPress's verdict so far.
	 * @param array               $commentdata The comment, slashed, as wp_new_comment() builds it.
	 * @return int|string|WP_Error
	 */
	public function moderate( $approved, $commentdata ) {
		$this->pending = null;
		if ( is_wp_error( $approved ) || 'spam' === $approved || 'trash' === $approved ) {
			return $approved;
		}
		if ( ! empty( $commentdata['user_id'] ) && user_can( (int) $commentdata['user_id'], 'moderate_comments' ) ) {
			return $approved;
		}

		$key           = self::idempotency_key( $commentdata );
		$this->pending = array(
			'client_comment_id' => $key,
			'decision'          => 'unchecked',
			'reason'            => 'unchecked',
			'message'           => __( 'Your comment is awaiting moderation.', 'moderation-connector' ),
		);

		$fields = $this->submission( $commentdata, $key );
		if ( '' === $fields['email'] ) {
			Moderation_Connector::log( 'a comment without an email address (e.g. a pingback) cannot be checked; it is held' );
			return 0;
		}

		$answer = $this->plugin->client()->submit_comment( $fields );
		if ( is_wp_error( $answer ) ) {
			Moderation_Connector::log( 'comment held unchecked: ' . $answer->get_error_message() );
			return 0;
		}

		$reason        = isset( $answer['reason'] ) && is_array( $answer['reason'] ) ? $answer['reason'] : array();
		$this->pending = array(
			'client_comment_id' => $key,
			'id'                => (string) $answer['id'],
			'decision'          => $answer['decision'],
			'reason'            => isset( $reason['code'] ) ? (string) $reason['code'] : '',
			'message'           => isset( $reason['message'] ) ? (string) $reason['message'] : '',
		);

		$verdict = $this->verdict( $answer['decision'], $this->pending['reason'], $this->pending['message'] );
		if ( is_wp_error( $verdict ) ) {
			$this->pending = null; // WordPress will not insert the comment.
			return $verdict;
		}
		if ( 1 === $verdict && 1 !== (int) $approved ) {
			return $approved;
		}
		return $verdict;
	}

	/**
	 * Map the service's decision to a comment_approved value.
	 *
	 * @param string $decision approve, hold or reject.
	 * @param string $reason   The primary reason code.
	 * @param string $message  The commenter-safe message.
	 * @return int|string|WP_Error
	 */
	private function verdict( $decision, $reason, $message ) {
		if ( 'approve' === $decision ) {
			return 1;
		}
		if ( 'hold' === $decision ) {
			return 0;
		}
		// WordPress refuses its own duplicates and floods with these codes and statuses and shows the message.
		if ( 'duplicate' === $reason ) {
			return new WP_Error( 'comment_duplicate', esc_html( $message ), 409 );
		}
		if ( 'flood' === $reason ) {
			return new WP_Error( 'comment_flood', esc_html( $message ), 429 );
		}
		$settings = $this->plugin->settings();
		if ( 'toxicity' === $reason && ! empty( $settings['trash_toxic'] ) ) {
			return 'trash';
		}
		return 'spam';
	}

	/**
	 * The API fields for a comment; commentdata is slashed at this point, the service wants plain text.
	 *
	 * @param array  $commentdata The comment.
	 * @param string $key         The idempotency key.
	 * @return array
	 */
	private function submission( array $commentdata, $key ) {
		$field = static function ( $name ) use ( $commentdata ) {
			return isset( $commentdata[ $name ] ) ? trim( (string) wp_unslash( $commentdata[ $name ] ) ) : '';
		};

		$name = $field( 'comment_author' );
		$ip   = $field( 'comment_author_IP' );
		$ua   = $field( 'comment_agent' );
		if ( '' === $ua && isset( $_SERVER['HTTP_USER_AGENT'] ) ) {
			$ua = trim( (string) wp_unslash( $_SERVER['HTTP_USER_AGENT'] ) ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- sent as data, never output.
		}
		$referrer = isset( $_SERVER['HTTP_REFERER'] ) ? trim( (string) wp_unslash( $_SERVER['HTTP_REFERER'] ) ) : ''; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- sent as data, never output.
		$parent   = isset( $commentdata['comment_parent'] ) ? absint( $commentdata['comment_parent'] ) : 0;
		$post_id  = isset( $commentdata['comment_post_ID'] ) ? absint( $commentdata['comment_post_ID'] ) : 0;

		return array(
			'name'              => '' === $name ? __( 'Anonymous', 'moderation-connector' ) : mb_substr( $name, 0, 100 ),
			'email'             => $field( 'comment_author_email' ),
			'url'               => $field( 'comment_author_url' ),
			'text'              => $field( 'comment_content' ),
			'post_id'           => $post_id ? $post_id : null,
			'parent_id'         => $parent ? $parent : null,
			'ip'                => filter_var( $ip, FILTER_VALIDATE_IP ) ? $ip : null,
			'user_agent'        => '' === $ua ? null : mb_substr( $ua, 0, 1000 ),
			'referrer'          => '' === $referrer ? null : mb_substr( $referrer, 0, 2048 ),
			'client_comment_id' => $key,
		);
	}

	/**
	 * A stable client_comment_id for a comment that has no WordPress id yet.
	 *
	 * The same comment (site, post, parent, author email, text) sent again within the same UTC hour
	 * gets the same key, so the service answers with the decision it stored instead of a new one.
	 *
	 * @param array $commentdata The comment.
	 * @return string "wp-" and 40 hex digits.
	 */
	public static function idempotency_key( array $commentdata ) {
		$parts = array(
			home_url( '/' ),
			isset( $commentdata['comment_post_ID'] ) ? absint( $commentdata['comment_post_ID'] ) : 0,
			isset( $commentdata['comment_parent'] ) ? absint( $commentdata['comment_parent'] ) : 0,
			strtolower( trim( (string) wp_unslash( isset( $commentdata['comment_author_email'] ) ? $commentdata['comment_author_email'] : '' ) ) ),
			trim( (string) wp_unslash( isset( $commentdata['comment_content'] ) ? $commentdata['comment_content'] : '' ) ),
			(int) floor( time() / self::IDEMPOTENCY_WINDOW ),
		);
		return 'wp-' . substr( hash( 'sha256', implode( "\n", $parts ) ), 0, 40 );
	}

	/**
	 * Store our id, the decision and the key in comment meta once WordPress has inserted the comment.
	 *
	 * @param int        $comment_id  The new comment's id.
	 * @param int|string $approved    Its status.
	 * @param array      $commentdata The comment.
	 */
	public function remember( $comment_id, $approved = null, $commentdata = array() ) {
		if ( null === $this->pending ) {
			return;
		}
		if ( isset( $this->pending['id'] ) ) {
			update_comment_meta( $comment_id, Moderation_Connector::META_ID, $this->pending['id'] );
		}
		update_comment_meta( $comment_id, Moderation_Connector::META_CLIENT_ID, $this->pending['client_comment_id'] );
		update_comment_meta( $comment_id, Moderation_Connector::META_DECISION, $this->pending['decision'] );
		update_comment_meta( $comment_id, Moderation_Connector::META_REASON, $this->pending['reason'] );
	}

	/**
	 * Carry the commenter-safe message of a held or rejected comment to the page WordPress redirects to.
	 *
	 * The message stays on the server; the URL only holds a random token, so nobody can craft a link
	 * that shows arbitrary text on the site.
	 *
	 * @param string     $location Where WordPress redirects after posting.
	 * @param WP_Comment $comment  The new comment.
	 * @return string
	 */
	public function add_notice_to_redirect( $location, $comment = null ) {
		$pending       = $this->pending;
		$this->pending = null;
		if ( null === $pending || 'approve' === $pending['decision'] || '' === $pending['message'] ) {
			return $location;
		}
		$token = wp_generate_password( 20, false );
		set_transient( self::NOTICE_TRANSIENT . $token, $pending['message'], self::NOTICE_TTL );
		return add_query_arg( self::NOTICE_ARG, $token, $location );
	}

	/**
	 * Print the message above the comment form after the redirect.
	 */
	public function print_notice() {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a read-only lookup of a random token.
		$token = isset( $_GET[ self::NOTICE_ARG ] ) ? preg_replace( '/[^A-Za-z0-9]/', '', (string) wp_unslash( $_GET[ self::NOTICE_ARG ] ) ) : '';
		if ( '' === $token ) {
			return;
		}
		$message = get_transient( self::NOTICE_TRANSIENT . $token );
		if ( ! is_string( $message ) || '' === $message ) {
			return;
		}
		printf( '<p id="moderation-notice" class="moderation-notice" role="status">%s</p>', esc_html( $message ) );
	}
}
