<?php
/**
 * Minimal stand-ins for exactly the WordPress functions and classes the connector calls.
 *
 * State lives in $GLOBALS['wp_test'] so run-tests.php can inspect and reset it. HTTP is real: the
 * wp_remote_* stand-ins speak HTTP through PHP streams, so the plugin talks to the running service.
 *
 * @package Moderation_Connector
 */

define( 'ABSPATH', __DIR__ . '/' );

$GLOBALS['wp_test'] = array(
	'hooks'        => array(),
	'options'      => array(),
	'transients'   => array(),
	'comments'     => array(),
	'meta'         => array(),
	'next_id'      => 100,
	'routes'       => array(),
	'pages'        => array(),
	'http'         => array(),
	'current_user' => 1,
	'caps'         => array( 1 => array( 'manage_options' => true, 'moderate_comments' => true ) ),
);

/** Thrown by wp_die(): the request would end here with this message and HTTP status. */
class WP_Test_Die extends Exception {
	/** @var int */
	public $status;

	public function __construct( $message, $status ) {
		parent::__construct( (string) $message );
		$this->status = (int) $status;
	}
}

/** Thrown by wp_safe_redirect() in place of the header and the exit that follows it. */
class WP_Test_Redirect extends Exception {
	/** @var string */
	public $location;

	public function __construct( $location ) {
		parent::__construct( 'redirect to ' . $location );
		$this->location = $location;
	}
}

class WP_Error {
	private $code;
	private $message;
	private $data;

	public function __construct( $code = '', $message = '', $data = '' ) {
		$this->code    = $code;
		$this->message = $message;
		$this->data    = $data;
	}

	public function get_error_code() {
		return $this->code;
	}

	public function get_error_message() {
		return $this->message;
	}

	public function get_error_data() {
		return $this->data;
	}
}

function is_wp_error( $thing ) {
	return $thing instanceof WP_Error;
}

/* Hooks: recorded in priority order, run like WordPress runs them. */

function add_filter( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	$GLOBALS['wp_test']['hooks'][ $hook ][ $priority ][] = array( $callback, $accepted_args );
	return true;
}

function add_action( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	return add_filter( $hook, $callback, $priority, $accepted_args );
}

function has_filter( $hook ) {
	return ! empty( $GLOBALS['wp_test']['hooks'][ $hook ] );
}

function apply_filters( $hook, $value, ...$args ) {
	if ( empty( $GLOBALS['wp_test']['hooks'][ $hook ] ) ) {
		return $value;
	}
	$by_priority = $GLOBALS['wp_test']['hooks'][ $hook ];
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as list( $callback, $accepted ) ) {
			$value = call_user_func_array( $callback, array_slice( array_merge( array( $value ), $args ), 0, $accepted ) );
		}
	}
	return $value;
}

function do_action( $hook, ...$args ) {
	if ( empty( $GLOBALS['wp_test']['hooks'][ $hook ] ) ) {
		return;
	}
	$by_priority = $GLOBALS['wp_test']['hooks'][ $hook ];
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as list( $callback, $accepted ) ) {
			call_user_func_array( $callback, array_slice( $args, 0, $accepted ) );
		}
	}
}

/* Options and transients in memory. */

function get_option( $name, $default = false ) {
	return array_key_exists( $name, $GLOBALS['wp_test']['options'] ) ? $GLOBALS['wp_test']['options'][ $name ] : $default;
}

function update_option( $name, $value, $autoload = null ) {
	$GLOBALS['wp_test']['options'][ $name ] = $value;
	return true;
}

function delete_option( $name ) {
	unset( $GLOBALS['wp_test']['options'][ $name ] );
	return true;
}

function set_transient( $name, $value, $expiration = 0 ) {
	$GLOBALS['wp_test']['transients'][ $name ] = array( $value, $expiration ? time() + $expiration : 0 );
	return true;
}

function get_transient( $name ) {
	if ( ! isset( $GLOBALS['wp_test']['transients'][ $name ] ) ) {
		return false;
	}
	list( $value, $expires ) = $GLOBALS['wp_test']['transients'][ $name ];
	return ( $expires && $expires < time() ) ? false : $value;
}

function wp_parse_args( $args, $defaults = array() ) {
	return array_merge( $defaults, (array) $args );
}

/* Users and capabilities. */

function user_can( $user_id, $capability ) {
	return ! empty( $GLOBALS['wp_test']['caps'][ (int) $user_id ][ $capability ] );
}

function current_user_can( $capability ) {
	return user_can( $GLOBALS['wp_test']['current_user'], $capability );
}

/* Nonces: a keyed hash of the action and the user, like WordPress's without the time tick. */

function wp_create_nonce( $action = -1 ) {
	return substr( hash_hmac( 'sha256', $action . '|' . $GLOBALS['wp_test']['current_user'], 'test-nonce-salt' ), 0, 10 );
}

function wp_nonce_field( $action = -1, $name = '_wpnonce' ) {
	printf( '<input type="hidden" id="%1$s" name="%1$s" value="%2$s" />', esc_attr( $name ), esc_attr( wp_create_nonce( $action ) ) );
}

function check_admin_referer( $action = -1, $query_arg = '_wpnonce' ) {
	$nonce = isset( $_REQUEST[ $query_arg ] ) ? (string) $_REQUEST[ $query_arg ] : '';
	if ( ! hash_equals( wp_create_nonce( $action ), $nonce ) ) {
		wp_die( 'The link you followed has expired.', '', array( 'response' => 403 ) );
	}
	return 1;
}

function wp_die( $message = '', $title = '', $args = array() ) {
	$status = is_array( $args ) && isset( $args['response'] ) ? $args['response'] : ( is_int( $args ) ? $args : 500 );
	throw new WP_Test_Die( $message, $status );
}

function wp_safe_redirect( $location, $status = 302 ) {
	throw new WP_Test_Redirect( $location );
}

/* Translation and escaping. */

function __( $text, $domain = 'default' ) {
	return $text;
}

function esc_html( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}

function esc_attr( $text ) {
	return esc_html( $text );
}

function esc_html__( $text, $domain = 'default' ) {
	return esc_html( $text );
}

function esc_html_e( $text, $domain = 'default' ) {
	echo esc_html( $text );
}

function esc_url_raw( $url, $protocols = array( 'http', 'https' ) ) {
	$scheme = strtolower( (string) parse_url( (string) $url, PHP_URL_SCHEME ) );
	return in_array( $scheme, $protocols, true ) ? str_replace( array( '"', "'", '<', '>', ' ' ), array( '%22', '%27', '%3C', '%3E', '%20' ), $url ) : '';
}

function esc_url( $url ) {
	return esc_html( esc_url_raw( $url ) );
}

function checked( $checked, $current = true, $display = true ) {
	$result = ( (string) $checked === (string) $current ) ? " checked='checked'" : '';
	if ( $display ) {
		echo $result; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped
	}
	return $result;
}

function submit_button() {
	echo '<p class="submit"><input type="submit" name="submit" id="submit" class="button button-primary" value="Save Changes" /></p>';
}

/* Strings, URLs and identifiers. */

function wp_unslash( $value ) {
	return is_array( $value ) ? array_map( 'wp_unslash', $value ) : ( is_string( $value ) ? stripslashes( $value ) : $value );
}

function wp_slash( $value ) {
	return is_array( $value ) ? array_map( 'wp_slash', $value ) : ( is_string( $value ) ? addslashes( $value ) : $value );
}

function absint( $value ) {
	return abs( (int) $value );
}

function untrailingslashit( $value ) {
	return rtrim( $value, '/\\' );
}

function wp_json_encode( $data ) {
	return json_encode( $data );
}

function wp_generate_password( $length = 12, $special_chars = true ) {
	$chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
	$out   = '';
	for ( $i = 0; $i < $length; $i++ ) {
		$out .= $chars[ random_int( 0, strlen( $chars ) - 1 ) ];
	}
	return $out;
}

function add_query_arg( $key, $value, $url ) {
	$fragment = '';
	if ( false !== strpos( $url, '#' ) ) {
		list( $url, $fragment ) = explode( '#', $url, 2 );
		$fragment               = '#' . $fragment;
	}
	$separator = false === strpos( $url, '?' ) ? '?' : '&';
	return $url . $separator . rawurlencode( $key ) . '=' . rawurlencode( $value ) . $fragment;
}

function home_url( $path = '' ) {
	return 'http://blog.test' . $path;
}

function admin_url( $path = '' ) {
	return 'http://blog.test/wp-admin/' . $path;
}

function rest_url( $path = '' ) {
	return 'http://blog.test/wp-json/' . ltrim( $path, '/' );
}

function plugin_basename( $file ) {
	return basename( dirname( $file ) ) . '/' . basename( $file );
}

function add_options_page( $page_title, $menu_title, $capability, $slug, $callback ) {
	$GLOBALS['wp_test']['pages'][ $slug ] = compact( 'page_title', 'menu_title', 'capability', 'callback' );
	return 'settings_page_' . $slug;
}

/* Comments and their meta in memory. */

function get_comment( $comment ) {
	$id = is_object( $comment ) ? $comment->comment_ID : (int) $comment;
	return isset( $GLOBALS['wp_test']['comments'][ $id ] ) ? $GLOBALS['wp_test']['comments'][ $id ] : null;
}

function get_comment_meta( $comment_id, $key = '', $single = false ) {
	$value = isset( $GLOBALS['wp_test']['meta'][ (int) $comment_id ][ $key ] ) ? $GLOBALS['wp_test']['meta'][ (int) $comment_id ][ $key ] : null;
	if ( $single ) {
		return null === $value ? '' : $value;
	}
	return null === $value ? array() : array( $value );
}

function update_comment_meta( $comment_id, $key, $value ) {
	$GLOBALS['wp_test']['meta'][ (int) $comment_id ][ $key ] = $value;
	return true;
}

function get_comments( $args = array() ) {
	$ids = array();
	foreach ( $GLOBALS['wp_test']['comments'] as $id => $comment ) {
		if ( isset( $args['status'] ) && 'any' !== $args['status'] && 'all' !== $args['status'] ) {
			continue; // The connector only asks for 'any'.
		}
		if ( 'all' === ( $args['status'] ?? 'all' ) && ! in_array( $comment->comment_approved, array( '0', '1' ), true ) ) {
			continue;
		}
		if ( isset( $args['meta_key'] ) && get_comment_meta( $id, $args['meta_key'], true ) !== $args['meta_value'] ) {
			continue;
		}
		$ids[] = $id;
	}
	if ( ! empty( $args['number'] ) ) {
		$ids = array_slice( $ids, 0, $args['number'] );
	}
	if ( isset( $args['fields'] ) && 'ids' === $args['fields'] ) {
		return $ids;
	}
	return array_map( 'get_comment', $ids );
}

function wp_get_comment_status( $comment ) {
	$comment = get_comment( $comment );
	if ( ! $comment ) {
		return false;
	}
	$names = array(
		'1'     => 'approved',
		'0'     => 'unapproved',
		'spam'  => 'spam',
		'trash' => 'trash',
	);
	return isset( $names[ $comment->comment_approved ] ) ? $names[ $comment->comment_approved ] : false;
}

function wp_set_comment_status( $comment_id, $status ) {
	$values = array(
		'hold'    => '0',
		'0'       => '0',
		'approve' => '1',
		'1'       => '1',
		'spam'    => 'spam',
		'trash'   => 'trash',
	);
	$comment = get_comment( $comment_id );
	if ( ! $comment || ! isset( $values[ (string) $status ] ) ) {
		return false;
	}
	$old                       = wp_get_comment_status( $comment );
	$comment->comment_approved = $values[ (string) $status ];
	$new                       = wp_get_comment_status( $comment );
	if ( $new !== $old ) {
		do_action( 'transition_comment_status', $new, $old, $comment );
	}
	return true;
}

/** What wp-admin's Spam link does: the action, then the status change. */
function wp_spam_comment( $comment_id ) {
	do_action( 'spam_comment', $comment_id, get_comment( $comment_id ) );
	return wp_set_comment_status( $comment_id, 'spam' );
}

/** What wp-admin's Not Spam link does when the comment was pending before. */
function wp_unspam_comment( $comment_id ) {
	do_action( 'unspam_comment', $comment_id, get_comment( $comment_id ) );
	return wp_set_comment_status( $comment_id, '0' );
}

/**
 * Test helper, the core of wp_new_comment(): fill in IP and agent, slash, run pre_comment_approved
 * after WordPress's own verdict, insert, fire comment_post. Returns the new id or the WP_Error.
 */
function wp_test_new_comment( array $commentdata, $wordpress_verdict = 1 ) {
	$commentdata += array(
		'comment_post_ID'      => 1,
		'comment_author_url'   => '',
		'comment_parent'       => 0,
		'comment_author_IP'    => isset( $_SERVER['REMOTE_ADDR'] ) ? $_SERVER['REMOTE_ADDR'] : '',
		'comment_agent'        => isset( $_SERVER['HTTP_USER_AGENT'] ) ? $_SERVER['HTTP_USER_AGENT'] : '',
		'comment_type'         => 'comment',
		'user_id'              => 0,
	);
	$commentdata = wp_slash( $commentdata );
	$approved    = apply_filters( 'pre_comment_approved', $wordpress_verdict, $commentdata );
	if ( is_wp_error( $approved ) ) {
		return $approved;
	}
	$id      = $GLOBALS['wp_test']['next_id']++;
	$comment = (object) wp_unslash( $commentdata );
	$comment->comment_ID       = $id;
	$comment->comment_approved = (string) $approved;
	$GLOBALS['wp_test']['comments'][ $id ] = $comment;
	do_action( 'comment_post', $id, $approved, $commentdata );
	return $id;
}

/* REST API: route registry, request and response, and a dispatcher like WP_REST_Server's. */

function register_rest_route( $namespace, $route, $args = array() ) {
	$GLOBALS['wp_test']['routes'][ '/' . trim( $namespace, '/' ) . $route ] = $args;
	return true;
}

class WP_REST_Request {
	private $method;
	private $route;
	private $headers = array();
	private $body    = '';

	public function __construct( $method = '', $route = '' ) {
		$this->method = $method;
		$this->route  = $route;
	}

	public static function canonicalize_header_name( $name ) {
		return str_replace( '-', '_', strtolower( $name ) );
	}

	public function get_method() {
		return $this->method;
	}

	public function get_route() {
		return $this->route;
	}

	public function set_header( $name, $value ) {
		$this->headers[ self::canonicalize_header_name( $name ) ] = array( $value );
	}

	public function get_header( $name ) {
		$name = self::canonicalize_header_name( $name );
		return isset( $this->headers[ $name ] ) ? implode( ',', $this->headers[ $name ] ) : null;
	}

	public function set_body( $body ) {
		$this->body = $body;
	}

	public function get_body() {
		return $this->body;
	}
}

class WP_REST_Response {
	public $data;
	public $status;

	public function __construct( $data = null, $status = 200 ) {
		$this->data   = $data;
		$this->status = $status;
	}

	public function get_data() {
		return $this->data;
	}

	public function get_status() {
		return $this->status;
	}
}

/** Test helper: route a request through permission_callback and callback as WP_REST_Server does. */
function wp_test_rest_dispatch( WP_REST_Request $request ) {
	$route = isset( $GLOBALS['wp_test']['routes'][ $request->get_route() ] ) ? $GLOBALS['wp_test']['routes'][ $request->get_route() ] : null;
	if ( ! $route || strtoupper( $route['methods'] ) !== $request->get_method() ) {
		return new WP_REST_Response( array( 'code' => 'rest_no_route' ), 404 );
	}
	$as_response = static function ( $result ) {
		if ( is_wp_error( $result ) ) {
			$data = $result->get_error_data();
			return new WP_REST_Response( array( 'code' => $result->get_error_code(), 'message' => $result->get_error_message() ), isset( $data['status'] ) ? $data['status'] : 500 );
		}
		return $result;
	};
	$allowed = call_user_func( $route['permission_callback'], $request );
	if ( true !== $allowed ) {
		return is_wp_error( $allowed ) ? $as_response( $allowed ) : new WP_REST_Response( array( 'code' => 'rest_forbidden' ), 401 );
	}
	return $as_response( call_user_func( $route['callback'], $request ) );
}

/* HTTP through PHP streams, against the real service. */

function wp_remote_post( $url, $args = array() ) {
	return wp_test_http( 'POST', $url, $args );
}

function wp_remote_get( $url, $args = array() ) {
	return wp_test_http( 'GET', $url, $args );
}

function wp_test_http( $method, $url, $args ) {
	$GLOBALS['wp_test']['http'][] = array( 'method' => $method, 'url' => $url, 'args' => $args );
	$timeout = isset( $args['timeout'] ) ? (float) $args['timeout'] : 5.0;
	$lines   = array( 'Connection: close' );
	foreach ( isset( $args['headers'] ) ? $args['headers'] : array() as $name => $value ) {
		$lines[] = $name . ': ' . $value;
	}
	if ( isset( $args['user-agent'] ) ) {
		$lines[] = 'User-Agent: ' . $args['user-agent'];
	}
	$context = stream_context_create(
		array(
			'http' => array(
				'method'          => $method,
				'header'          => implode( "\r\n", $lines ),
				'content'         => isset( $args['body'] ) ? $args['body'] : '',
				'timeout'         => $timeout,
				'ignore_errors'   => true,
				'follow_location' => 0,
			),
		)
	);
	$error    = '';
	$previous = ini_set( 'default_socket_timeout', (string) $timeout ); // The connect timeout.
	set_error_handler(
		static function ( $severity, $message ) use ( &$error ) {
			$error = $message;
			return true;
		}
	);
	$body = file_get_contents( $url, false, $context );
	restore_error_handler();
	ini_set( 'default_socket_timeout', $previous );
	if ( false === $body || empty( $http_response_header ) ) {
		return new WP_Error( 'http_request_failed', '' === $error ? 'no response' : $error );
	}
	preg_match( '#^HTTP/\S+\s+(\d{3})\s*(.*)$#', $http_response_header[0], $status );
	return array(
		'headers'  => array_slice( $http_response_header, 1 ),
		'body'     => $body,
		'response' => array( 'code' => (int) $status[1], 'message' => trim( $status[2] ) ),
	);
}

function wp_remote_retrieve_response_code( $response ) {
	return is_wp_error( $response ) || ! isset( $response['response']['code'] ) ? '' : $response['response']['code'];
}

function wp_remote_retrieve_body( $response ) {
	return is_wp_error( $response ) || ! isset( $response['body'] ) ? '' : $response['body'];
}

/* WordPress's compat.php defines mb_substr() where the mbstring extension is missing. */

if ( ! function_exists( 'mb_substr' ) ) {
	function mb_substr( $text, $start, $length = null, $encoding = null ) {
		$chars = preg_split( '//u', (string) $text, -1, PREG_SPLIT_NO_EMPTY );
		return implode( '', array_slice( $chars, $start, $length ) );
	}
}
