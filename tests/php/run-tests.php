<?php
/**
 * Loads the WordPress connector with stand-ins for WordPress and checks it against a running
 * moderation service over real HTTP. Prints one line per check; exits 1 if any check failed.
 *
 * Environment:
 *   MODERATION_URL            the service, e.g. http://127.0.0.1:8123
 *   MODERATION_CLIENT_KEY     a client key
 *   MODERATION_MODERATOR_KEY  a moderator key, to review a held comment
 *   MODERATION_WEBHOOK_SECRET the service's MODERATION_WEBHOOK_SECRET
 *   MODERATION_WEBHOOK_PORT   the local port of the service's MODERATION_WEBHOOK_URL; this script
 *                             listens there and hands the real delivery to the plugin's REST route
 *   MODERATION_WATCHED_TERM   a term in the service's MODERATION_WATCHED_TERMS (held)
 *   MODERATION_RESULTS        optional: a JSON file to write what the Python test verifies in the database
 *
 * @package Moderation_Connector
 */

require __DIR__ . '/wordpress-stubs.php';

$env = array();
foreach ( array( 'MODERATION_URL', 'MODERATION_CLIENT_KEY', 'MODERATION_MODERATOR_KEY', 'MODERATION_WEBHOOK_SECRET', 'MODERATION_WEBHOOK_PORT', 'MODERATION_WATCHED_TERM' ) as $name ) {
	$value = getenv( $name );
	if ( false === $value || '' === $value ) {
		fwrite( STDERR, "run-tests.php: set $name\n" );
		exit( 2 );
	}
	$env[ $name ] = $value;
}

// The plugin's failure log goes to a file we can read, not to the terminal.
ini_set( 'display_errors', 'stderr' );
error_reporting( E_ALL );
$error_log = tempnam( sys_get_temp_dir(), 'moderation-connector-log' );
ini_set( 'error_log', $error_log );

// Listen before anything can trigger a webhook, so the service's first attempt already connects.
$webhook_listener = stream_socket_server( 'tcp://127.0.0.1:' . $env['MODERATION_WEBHOOK_PORT'], $errno, $errstr );
if ( ! $webhook_listener ) {
	fwrite( STDERR, "run-tests.php: cannot listen on the webhook port: $errstr\n" );
	exit( 2 );
}

require dirname( __DIR__, 2 ) . '/integrations/wordpress/moderation-connector/moderation-connector.php';
do_action( 'rest_api_init' );
do_action( 'admin_menu' );

$failed  = 0;
$passed  = 0;
$results = array( 'feedback' => array(), 'no_feedback' => array(), 'webhook_delivered' => array() );

/** Record one check. */
function check( $name, $ok, $detail = '' ) {
	global $failed, $passed;
	if ( $ok ) {
		++$passed;
		echo "ok    $name\n";
		return;
	}
	++$failed;
	echo "FAIL  $name" . ( '' === $detail ? '' : "\n      " . str_replace( "\n", "\n      ", $detail ) ) . "\n";
}

/** The plugin's settings, pointed at the service under test with these changes. */
function configure( array $changes = array() ) {
	global $env;
	$settings = array_merge(
		Moderation_Connector::defaults(),
		array(
			'service_url'    => $env['MODERATION_URL'],
			'client_key'     => $env['MODERATION_CLIENT_KEY'],
			'webhook_secret' => $env['MODERATION_WEBHOOK_SECRET'],
			'timeout'        => 5.0,
		),
		$changes
	);
	update_option( Moderation_Connector::OPTION, $settings );
}

/** A comment from an author the service has not seen yet (flood and duplicate checks stay quiet). */
function new_comment( $text, array $fields = array() ) {
	static $n = 0;
	++$n;
	$tag = getmypid() . '-' . $n;
	return array_merge(
		array(
			'comment_post_ID'      => 311,
			'comment_author'       => "Reader $n",
			'comment_author_email' => "reader-$tag@example.org",
			'comment_author_url'   => '',
			'comment_content'      => $text,
			'comment_author_IP'    => '198.51.' . ( getmypid() % 250 ) . '.' . $n,
			'comment_agent'        => 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
		),
		$fields
	);
}

/** Call the service directly as the test (not through the plugin), with any key. */
function service_call( $method, $path, $key, $body = null ) {
	global $env;
	$args = array(
		'timeout' => 10,
		'headers' => array( 'Authorization' => 'Bearer ' . $key, 'Content-Type' => 'application/json' ),
	);
	if ( null !== $body ) {
		$args['body'] = json_encode( $body );
	}
	$response = wp_test_http( $method, $env['MODERATION_URL'] . $path, $args );
	array_pop( $GLOBALS['wp_test']['http'] );
	if ( is_wp_error( $response ) ) {
		return array( 0, null );
	}
	return array( $response['response']['code'], json_decode( $response['body'], true ) );
}

/** Requests the plugin made whose URL ends with this suffix. */
function plugin_requests( $suffix ) {
	return array_values(
		array_filter(
			$GLOBALS['wp_test']['http'],
			static function ( $request ) use ( $suffix ) {
				return substr( $request['url'], -strlen( $suffix ) ) === $suffix;
			}
		)
	);
}

/** A webhook request signed with the secret, as the service signs it. */
function signed_webhook( array $payload, $delivery, $secret = null, $timestamp = null ) {
	global $env;
	$secret    = null === $secret ? $env['MODERATION_WEBHOOK_SECRET'] : $secret;
	$timestamp = null === $timestamp ? time() : $timestamp;
	ksort( $payload );
	$body    = json_encode( $payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
	$request = new WP_REST_Request( 'POST', '/moderation/v1/webhook' );
	$request->set_header( 'Content-Type', 'application/json' );
	$request->set_header( 'X-Moderation-Event', 'comment.status_changed' );
	$request->set_header( 'X-Moderation-Delivery', (string) $delivery );
	$request->set_header( 'X-Moderation-Timestamp', (string) $timestamp );
	$request->set_header( 'X-Moderation-Signature', 'sha256=' . hash_hmac( 'sha256', $timestamp . '.' . $body, $secret ) );
	$request->set_body( $body );
	return $request;
}

/** Accept one real HTTP request from the service's webhook dispatcher and answer it through the REST route. */
function serve_one_webhook( $listener, $seconds ) {
	$connection = @stream_socket_accept( $listener, $seconds );
	if ( ! $connection ) {
		return null;
	}
	stream_set_timeout( $connection, 10 );
	list( $method, $target ) = explode( ' ', trim( (string) fgets( $connection ) ) );
	$request = new WP_REST_Request( $method, preg_replace( '#^/wp-json#', '', parse_url( $target, PHP_URL_PATH ) ) );
	$length  = 0;
	while ( ( $line = fgets( $connection ) ) !== false && '' !== trim( $line ) ) {
		list( $name, $value ) = array_map( 'trim', explode( ':', $line, 2 ) );
		$request->set_header( $name, $value );
		if ( 'content-length' === strtolower( $name ) ) {
			$length = (int) $value;
		}
	}
	$body = '';
	while ( strlen( $body ) < $length && ! feof( $connection ) ) {
		$body .= fread( $connection, $length - strlen( $body ) );
	}
	$request->set_body( $body );
	$response = wp_test_rest_dispatch( $request );
	$json     = json_encode( $response->get_data() );
	fwrite( $connection, sprintf( "HTTP/1.1 %d Answer\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", $response->get_status(), strlen( $json ), $json ) );
	fclose( $connection );
	return array( $request, $response );
}

$log_lines = array();
add_action(
	'moderation_connector_log',
	static function ( $message ) use ( &$log_lines ) {
		$log_lines[] = $message;
	}
);

$_SERVER['HTTP_REFERER']    = 'http://blog.test/2026/11/frigate-delays/';
$_SERVER['HTTP_USER_AGENT'] = 'Mozilla/5.0 (test)';

/* ---------------------------------------------------------------- hooks */

check( 'hooks: pre_comment_approved, comment_post, comment_post_redirect, transition_comment_status', has_filter( 'pre_comment_approved' ) && has_filter( 'comment_post' ) && has_filter( 'comment_post_redirect' ) && has_filter( 'transition_comment_status' ) );
check( 'REST route /moderation/v1/webhook is registered', isset( $GLOBALS['wp_test']['routes']['/moderation/v1/webhook'] ) );
check( 'settings page Settings → Moderation needs manage_options', isset( $GLOBALS['wp_test']['pages']['moderation-connector'] ) && 'manage_options' === $GLOBALS['wp_test']['pages']['moderation-connector']['capability'] );

/* ---------------------------------------------------------------- settings page */

$settings_page = new Moderation_Connector_Settings_Page( Moderation_Connector::instance() );
update_option(
	Moderation_Connector::OPTION,
	array_merge( Moderation_Connector::defaults(), array( 'service_url' => 'http://svc.test/"><script>alert(1)</script>', 'client_key' => 'mod_secretkey_123', 'webhook_secret' => 'whsec-456' ) )
);
ob_start();
$settings_page->render();
$html = ob_get_clean();
check( 'settings page escapes saved values', false === strpos( $html, '<script>' ) && false !== strpos( $html, '&quot;&gt;&lt;script&gt;' ), $html );
check( 'settings page never prints the client key or the secret', false === strpos( $html, 'mod_secretkey_123' ) && false === strpos( $html, 'whsec-456' ) );
check( 'settings page has the nonce field and shows the webhook URL', false !== strpos( $html, 'name="_wpnonce" value="' . wp_create_nonce( 'moderation_connector_save' ) . '"' ) && false !== strpos( $html, 'http://blog.test/wp-json/moderation/v1/webhook' ) );

$try_save = static function ( array $post ) use ( $settings_page ) {
	$_POST    = wp_slash( $post );
	$_REQUEST = $_POST;
	try {
		$settings_page->save();
	} catch ( WP_Test_Die $die ) {
		return 'die:' . $die->status;
	} catch ( WP_Test_Redirect $redirect ) {
		return 'redirect:' . $redirect->location;
	}
	return 'returned';
};
$form = array(
	'action'         => 'moderation_connector_save',
	'service_url'    => 'https://moderation.example.org/',
	'client_key'     => '',
	'webhook_secret' => 'new%41secret"',
	'timeout'        => '30',
	'trash_toxic'    => '1',
);

$GLOBALS['wp_test']['current_user'] = 2; // A subscriber.
check( 'saving without manage_options is refused with 403', 'die:403' === $try_save( $form + array( '_wpnonce' => wp_create_nonce( 'moderation_connector_save' ) ) ) );
$GLOBALS['wp_test']['current_user'] = 1;
check( 'saving without a valid nonce is refused', 'die:403' === $try_save( $form + array( '_wpnonce' => 'forged' ) ) );
check( 'nothing was saved by the refused requests', 'whsec-456' === Moderation_Connector::instance()->settings()['webhook_secret'] );
$outcome = $try_save( $form + array( '_wpnonce' => wp_create_nonce( 'moderation_connector_save' ) ) );
$saved   = Moderation_Connector::instance()->settings();
check( 'saving with nonce and capability redirects back with updated=1', 'redirect:http://blog.test/wp-admin/options-general.php?page=moderation-connector&updated=1' === $outcome, $outcome );
check(
	'saved: URL without trailing slash, blank key kept, secret verbatim, timeout capped at 10 s, trash option',
	'https://moderation.example.org' === $saved['service_url'] && 'mod_secretkey_123' === $saved['client_key']
		&& 'new%41secret"' === $saved['webhook_secret'] && 10.0 === $saved['timeout'] && true === $saved['trash_toxic'],
	var_export( $saved, true )
);
check( 'a javascript: service URL is not saved', '' === Moderation_Connector_Settings_Page::sanitize( array( 'service_url' => 'javascript:alert(1)' ), $saved )['service_url'] );
check( 'the default timeout is 2 s', 2.0 === Moderation_Connector::defaults()['timeout'] );

/* ---------------------------------------------------------------- new comments */

configure();

$clean    = new_comment( "Clear piece on the frigate delays, thanks. I didn't know the yard's history." );
$clean_id = wp_test_new_comment( $clean );
$our_id   = get_comment_meta( $clean_id, Moderation_Connector::META_ID, true );
$sent     = json_decode( end( $GLOBALS['wp_test']['http'] )['args']['body'], true );
check( 'clean comment → 1 (approved)', '1' === get_comment( $clean_id )->comment_approved, var_export( get_comment( $clean_id ), true ) . var_export( $log_lines, true ) );
check( 'our comment id and the decision are kept in comment meta', '' !== $our_id && 'approve' === get_comment_meta( $clean_id, Moderation_Connector::META_DECISION, true ) );
check(
	'the request carries the comment unslashed with its context',
	"Clear piece on the frigate delays, thanks. I didn't know the yard's history." === $sent['text'] && $clean['comment_author_email'] === $sent['email']
		&& $clean['comment_author_IP'] === $sent['ip'] && 311 === $sent['post_id'] && 'http://blog.test/2026/11/frigate-delays/' === $sent['referrer']
		&& 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' === $sent['user_agent'] && null === $sent['parent_id']
		&& 1 === preg_match( '/^wp-[0-9a-f]{40}$/', $sent['client_comment_id'] ),
	var_export( $sent, true )
);
list( $code, $state ) = service_call( 'GET', '/v1/comments/' . rawurlencode( $our_id ), $env['MODERATION_CLIENT_KEY'] );
check( 'the service knows the comment under our id, with the client_comment_id sent', 200 === $code && $state['client_comment_id'] === $sent['client_comment_id'], var_export( $state, true ) );
$redirect = apply_filters( 'comment_post_redirect', 'http://blog.test/?p=311#comment-' . $clean_id, get_comment( $clean_id ) );
check( 'an approved comment adds no notice to the redirect', 'http://blog.test/?p=311#comment-' . $clean_id === $redirect, $redirect );

// The same comment sent again (e.g. after a timeout) has the same key and gets the stored answer.
$again = ( new Moderation_Connector_Comments( Moderation_Connector::instance() ) )->moderate( 1, wp_slash( $clean ) );
$last  = end( $GLOBALS['wp_test']['http'] );
check( 'the same comment again uses the same client_comment_id and gets the same decision', 1 === $again && json_decode( $last['args']['body'], true )['client_comment_id'] === $sent['client_comment_id'] );

$spam_text = 'CONGRATULATIONS!!! You have been selected to receive a $1000 gift card. Claim now at http://free-gift-cards.example/claim or WhatsApp +1 555 0199 before midnight!!!';
$spam_id   = wp_test_new_comment( new_comment( $spam_text, array( 'comment_author' => 'Lucky Winner' ) ) );
check( 'obvious spam → spam', 'spam' === get_comment( $spam_id )->comment_approved, var_export( get_comment( $spam_id ), true ) );
$redirect = apply_filters( 'comment_post_redirect', 'http://blog.test/?p=311#comment-' . $spam_id, get_comment( $spam_id ) );
check( 'the redirect after a rejected comment carries a notice token, not the message', 1 === preg_match( '/^http:\/\/blog\.test\/\?p=311&moderation_notice=([A-Za-z0-9]{20})#comment-\d+$/', $redirect, $token ), $redirect );
$_GET['moderation_notice'] = isset( $token[1] ) ? $token[1] : '';
ob_start();
do_action( 'comment_form_before' );
$notice = ob_get_clean();
check( 'the comment form shows our commenter-safe message', '<p id="moderation-notice" class="moderation-notice" role="status">Your comment looks like spam and was not published.</p>' === $notice, $notice );
$_GET['moderation_notice'] = 'forged0000';
ob_start();
do_action( 'comment_form_before' );
check( 'an unknown notice token shows nothing', '' === ob_get_clean() );
unset( $_GET['moderation_notice'] );

$held_id = wp_test_new_comment( new_comment( 'Does anyone know when the ' . $env['MODERATION_WATCHED_TERM'] . ' exhibition opens again?' ) );
check( 'a watched term → 0 (pending)', '0' === get_comment( $held_id )->comment_approved && 'watched_term' === get_comment_meta( $held_id, Moderation_Connector::META_REASON, true ), var_export( get_comment( $held_id ), true ) );
apply_filters( 'comment_post_redirect', 'http://blog.test/?p=311', get_comment( $held_id ) );

$wordpress_held = wp_test_new_comment( new_comment( 'A thoughtful and well sourced article, thank you for writing it.' ), 0 );
check( 'WordPress holds and the service approves → stays 0', '0' === get_comment( $wordpress_held )->comment_approved );

$calls = count( $GLOBALS['wp_test']['http'] );
$wp_spam = wp_test_new_comment( new_comment( 'Anything at all.' ), 'spam' );
check( "WordPress's own spam verdict stands without a call", 'spam' === get_comment( $wp_spam )->comment_approved && count( $GLOBALS['wp_test']['http'] ) === $calls );

$GLOBALS['wp_test']['caps'][7] = array( 'moderate_comments' => true );
$staff = wp_test_new_comment( new_comment( 'Editor here: we corrected the date in paragraph two.', array( 'user_id' => 7 ) ) );
check( 'a comment by a user who can moderate is not sent', '1' === get_comment( $staff )->comment_approved && count( $GLOBALS['wp_test']['http'] ) === $calls );

$first  = new_comment( 'First thought: the tender timeline looks optimistic to me.' );
wp_test_new_comment( $first );
$flood = wp_test_new_comment( new_comment( 'Second thought: the budget line also seems thin.', array( 'comment_author_email' => $first['comment_author_email'], 'comment_author_IP' => $first['comment_author_IP'] ) ) );
check( 'a flood reject becomes the WP_Error WordPress shows with wp_die (429), and nothing is inserted', is_wp_error( $flood ) && 'comment_flood' === $flood->get_error_code() && 429 === $flood->get_error_data(), var_export( $flood, true ) );

configure( array( 'trash_toxic' => true ) );
$toxic_id = wp_test_new_comment( new_comment( 'You are a pathetic moron and a disgusting idiot. Shut up, you worthless piece of garbage.' ) );
check( 'a toxic comment → trash when the option is on', 'trash' === get_comment( $toxic_id )->comment_approved && 'toxicity' === get_comment_meta( $toxic_id, Moderation_Connector::META_REASON, true ), var_export( get_comment( $toxic_id ), true ) . var_export( get_comment_meta( $toxic_id, Moderation_Connector::META_REASON, true ), true ) );
configure();

/* ---------------------------------------------------------------- failures hold */

$log_lines = array();
configure( array( 'service_url' => 'http://127.0.0.1:9' ) );
$down_id = wp_test_new_comment( new_comment( 'Clear piece on the frigate delays, thanks.' ) );
check( 'service down (wrong port) → 0, logged, marked unchecked', '0' === get_comment( $down_id )->comment_approved && 'unchecked' === get_comment_meta( $down_id, Moderation_Connector::META_DECISION, true ) && 1 === count( $log_lines ), var_export( $log_lines, true ) );
check( 'the log line carries neither the email nor the text', false === strpos( implode( ' ', $log_lines ), '@example.org' ) && false === strpos( implode( ' ', $log_lines ), 'frigate' ) );
$redirect = apply_filters( 'comment_post_redirect', 'http://blog.test/?p=311', get_comment( $down_id ) );
check( 'an unchecked comment gets the awaiting-moderation notice', false !== strpos( $redirect, 'moderation_notice=' ) );

$silent = stream_socket_server( 'tcp://127.0.0.1:0' ); // Accepts connections into the backlog, never answers.
configure( array( 'service_url' => 'http://' . stream_socket_get_name( $silent, false ), 'timeout' => 1.0 ) );
$started    = microtime( true );
$timeout_id = wp_test_new_comment( new_comment( 'Clear piece on the frigate delays, thanks.' ) );
$elapsed    = microtime( true ) - $started;
check( sprintf( 'service silent → 0 after the 1 s timeout (took %.1f s)', $elapsed ), '0' === get_comment( $timeout_id )->comment_approved && $elapsed < 4 );
fclose( $silent );

configure( array( 'client_key' => 'not-a-key' ) );
$refused_id = wp_test_new_comment( new_comment( 'Clear piece on the frigate delays, thanks.' ) );
check( 'a refused key (401) → 0, logged', '0' === get_comment( $refused_id )->comment_approved && false !== strpos( end( $log_lines ), '401' ), end( $log_lines ) );
configure();

$no_email = wp_test_new_comment( new_comment( 'Pingback from another blog.', array( 'comment_author_email' => '', 'comment_type' => 'pingback' ) ) );
check( 'a comment without an email cannot be checked → 0', '0' === get_comment( $no_email )->comment_approved );

/* ---------------------------------------------------------------- webhooks */

$held_our_id = get_comment_meta( $held_id, Moderation_Connector::META_ID, true );
list( $code, $review ) = service_call( 'POST', '/v1/comments/' . rawurlencode( $held_our_id ) . '/review', $env['MODERATION_MODERATOR_KEY'], array( 'action' => 'approve', 'label' => 'ham', 'note' => 'wordpress test' ) );
check( "a moderator approves the held comment on the service's side", 200 === $code || 201 === $code, var_export( array( $code, $review ), true ) );
$feedback_before = count( plugin_requests( '/feedback' ) );
$delivery        = serve_one_webhook( $webhook_listener, 30 );
check( "the service's real signed webhook reaches the REST route and is accepted", null !== $delivery && 200 === $delivery[1]->get_status(), null === $delivery ? 'no delivery within 30 s' : var_export( $delivery[1], true ) );
check( 'the webhook publishes the held comment', '1' === get_comment( $held_id )->comment_approved && 'approved' === get_comment_meta( $held_id, Moderation_Connector::META_STATUS, true ) );
check( 'a change that came from the webhook is not reported back', count( plugin_requests( '/feedback' ) ) === $feedback_before );
if ( null !== $delivery ) {
	$results['webhook_delivered'][] = (int) $delivery[0]->get_header( 'X-Moderation-Delivery' );
}
$results['no_feedback'][] = $held_our_id;

// The replay of issue 14: the moderator changes their mind (undo, then reject); an attacker who
// captured the approval re-sends its exact signed bytes under a new delivery id, within 300 s.
$review_path = '/v1/comments/' . rawurlencode( $held_our_id ) . '/review';
list( $code ) = service_call( 'POST', $review_path . '/undo', $env['MODERATION_MODERATOR_KEY'] );
$undone       = serve_one_webhook( $webhook_listener, 30 );
check( 'an undo on the service comes back as held', 200 === $code && null !== $undone && '0' === get_comment( $held_id )->comment_approved );
list( $code ) = service_call( 'POST', $review_path, $env['MODERATION_MODERATOR_KEY'], array( 'action' => 'reject', 'label' => 'spam' ) );
$rejected     = serve_one_webhook( $webhook_listener, 30 );
check( 'the later rejection is applied', 200 === $code && null !== $rejected && 'spam' === get_comment( $held_id )->comment_approved );
foreach ( array( $undone, $rejected ) as $later ) {
	if ( null !== $later ) {
		$results['webhook_delivered'][] = (int) $later[0]->get_header( 'X-Moderation-Delivery' );
	}
}
if ( null !== $delivery ) {
	$replay = clone $delivery[0];
	$replay->set_header( 'X-Moderation-Delivery', '987654321' );
	$response = wp_test_rest_dispatch( $replay );
	check( 'a captured approval replayed under a new delivery id is dropped as stale', 200 === $response->get_status() && 'stale' === $response->get_data()['result'] && 'spam' === get_comment( $held_id )->comment_approved, var_export( $response, true ) );
}

$route   = '/moderation/v1/webhook';
$payload = array(
	'event'             => 'comment.status_changed',
	'comment_id'        => get_comment_meta( $clean_id, Moderation_Connector::META_ID, true ),
	'client_comment_id' => get_comment_meta( $clean_id, Moderation_Connector::META_CLIENT_ID, true ),
	'status'            => 'rejected',
	'label'             => 'toxic',
	'reviewer_role'     => 'moderator',
	'reviewed_at'       => gmdate( 'c' ),
);

$response = wp_test_rest_dispatch( signed_webhook( $payload, 900001, 'wrong-secret' ) );
check( 'a bad signature is refused with 401 and changes nothing', 401 === $response->get_status() && '1' === get_comment( $clean_id )->comment_approved );
$response = wp_test_rest_dispatch( signed_webhook( $payload, 900001, null, time() - 301 ) );
check( 'a timestamp older than 300 s is refused with 401', 401 === $response->get_status() && '1' === get_comment( $clean_id )->comment_approved );
$unsigned = signed_webhook( $payload, 900001 );
$unsigned->set_header( 'X-Moderation-Signature', '' );
check( 'a missing signature is refused with 401', 401 === wp_test_rest_dispatch( $unsigned )->get_status() );
$tampered = signed_webhook( $payload, 900001 );
$tampered->set_body( str_replace( 'rejected', 'approved', $tampered->get_body() ) );
check( 'a body changed after signing is refused with 401', 401 === wp_test_rest_dispatch( $tampered )->get_status() );

configure( array( 'trash_toxic' => true ) );
$response = wp_test_rest_dispatch( signed_webhook( $payload, 900001 ) );
check( 'a valid signed webhook (rejected, toxic, trash option on) trashes the comment', 200 === $response->get_status() && 'trash' === get_comment( $clean_id )->comment_approved, var_export( $response, true ) );
configure();

wp_set_comment_status( $clean_id, 'approve' ); // A site moderator restores it in between.
$response = wp_test_rest_dispatch( signed_webhook( $payload, 900001 ) );
check( 'a repeated X-Moderation-Delivery is acknowledged and not applied again', 200 === $response->get_status() && 'duplicate' === $response->get_data()['result'] && '1' === get_comment( $clean_id )->comment_approved );

$by_client_id = array( 'comment_id' => 'unknown-to-this-site', 'status' => 'rejected', 'label' => 'spam' ) + $payload;
$response     = wp_test_rest_dispatch( signed_webhook( $by_client_id, 900002 ) );
check( 'rejected (spam) → spam, found by client_comment_id when our id is unknown', 200 === $response->get_status() && 'spam' === get_comment( $clean_id )->comment_approved );
$response = wp_test_rest_dispatch( signed_webhook( array( 'status' => 'held' ) + $payload, 900003 ) );
check( 'held (after an undo) → 0', 200 === $response->get_status() && '0' === get_comment( $clean_id )->comment_approved );
wp_set_comment_status( $clean_id, 'approve' );

$response = wp_test_rest_dispatch( signed_webhook( array( 'comment_id' => 'nope', 'client_comment_id' => 'nope' ) + $payload, 900004 ) );
check( 'an unknown comment is acknowledged (200) so the service stops retrying', 200 === $response->get_status() && 'ignored' === $response->get_data()['result'] );
$response = wp_test_rest_dispatch( signed_webhook( array( 'event' => 'comment.something_new' ) + $payload, 900005 ) );
check( 'an unknown event is acknowledged and ignored', 200 === $response->get_status() && '1' === get_comment( $clean_id )->comment_approved );

configure( array( 'webhook_secret' => '' ) );
check( 'without a webhook secret every webhook is refused (503)', 503 === wp_test_rest_dispatch( signed_webhook( $payload, 900006, '' ) )->get_status() );
configure();

/* ---------------------------------------------------------------- feedback from wp-admin */

$feedback_before = count( plugin_requests( '/feedback' ) );
wp_spam_comment( $clean_id );
$requests = plugin_requests( '/feedback' );
check( 'wp-admin Spam sends feedback "spam" once and records it', count( $requests ) === $feedback_before + 1 && 'spam' === get_comment_meta( $clean_id, Moderation_Connector::META_FEEDBACK, true ), var_export( $log_lines, true ) );
$results['feedback'][ get_comment_meta( $clean_id, Moderation_Connector::META_ID, true ) ] = 'spam';

wp_unspam_comment( $spam_id );
check( 'wp-admin Not Spam sends feedback "ham"', 'ham' === get_comment_meta( $spam_id, Moderation_Connector::META_FEEDBACK, true ), var_export( $log_lines, true ) );
$results['feedback'][ get_comment_meta( $spam_id, Moderation_Connector::META_ID, true ) ] = 'ham';

$count = count( plugin_requests( '/feedback' ) );
wp_set_comment_status( $wordpress_held, 'trash' );
check( 'trashing sends no feedback', count( plugin_requests( '/feedback' ) ) === $count );
$results['no_feedback'][] = get_comment_meta( $wordpress_held, Moderation_Connector::META_ID, true );

wp_set_comment_status( $down_id, 'approve' );
check( 'a comment the service never saw sends no feedback', count( plugin_requests( '/feedback' ) ) === $count );

$log_lines = array();
configure( array( 'service_url' => 'http://127.0.0.1:9' ) );
wp_spam_comment( $toxic_id );
check( 'feedback that cannot be sent is logged', 1 === count( $log_lines ) && false !== strpos( $log_lines[0], 'feedback "spam"' ), var_export( $log_lines, true ) );
configure();

/* ---------------------------------------------------------------- done */

fclose( $webhook_listener );
$results_file = getenv( 'MODERATION_RESULTS' );
if ( $results_file ) {
	file_put_contents( $results_file, json_encode( $results ) );
}
printf( "\n%d passed, %d failed\n", $passed, $failed );
exit( $failed ? 1 : 0 );
