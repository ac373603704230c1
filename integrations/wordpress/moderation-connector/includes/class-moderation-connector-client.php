<?php
/**
 * The HTTP client for the moderation service's API.
 *
 * @package Moderation_Connector
 */

defined( 'ABSPATH' ) || exit;

/**
 * Calls POST /v1/comments and POST /v1/comments/{id}/feedback with the site's client key.
 */
class Moderation_Connector_Client {

	/**
	 * Service URL, client key and timeout.
	 *
	 * @var array
	 */
	private $settings;

	/**
	 * Build a client from the plugin settings.
	 *
	 * @param array $settings The plugin settings.
	 */
	public function __construct( array $settings ) {
		$this->settings = $settings;
	}

	/**
	 * Whether a service URL and a client key are set.
	 *
	 * @return bool
	 */
	public function is_configured() {
		return '' !== $this->settings['service_url'] && '' !== $this->settings['client_key'];
	}

	/**
	 * Send a comment for moderation.
	 *
	 * @param array $fields The submission, with the API's field names.
	 * @return array|WP_Error The service's answer, or why there is none.
	 */
	public function submit_comment( array $fields ) {
		$answer = $this->post( '/v1/comments', $fields );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		if ( ! isset( $answer['id'], $answer['decision'] ) || ! in_array( $answer['decision'], array( 'approve', 'hold', 'reject' ), true ) ) {
			return new WP_Error( 'moderation_bad_answer', 'the service answered without a known decision' );
		}
		return $answer;
	}

	/**
	 * Report the site's own moderators' verdict on a comment.
	 *
	 * @param string $comment_id Our comment id.
	 * @param string $label      spam, toxic or ham.
	 * @return array|WP_Error The stored label, or why it was not stored.
	 */
	public function send_feedback( $comment_id, $label ) {
		return $this->post( '/v1/comments/' . rawurlencode( $comment_id ) . '/feedback', array( 'label' => $label ) );
	}

	/**
	 * POST a JSON body and decode the JSON answer; anything but a 2xx JSON object is an error.
	 *
	 * @param string $path The API path.
	 * @param array  $body The request body.
	 * @return array|WP_Error
	 */
	private function post( $path, array $body ) {
		if ( ! $this->is_configured() ) {
			return new WP_Error( 'moderation_not_configured', 'no service URL or client key is set' );
		}
		$response = wp_remote_post(
			untrailingslashit( $this->settings['service_url'] ) . $path,
			array(
				'timeout'     => (float) $this->settings['timeout'],
				'redirection' => 0,
				'user-agent'  => 'moderation-connector/' . MODERATION_CONNECTOR_VERSION . '; ' . home_url( '/' ),
				'headers'     => array(
					'Authorization' => 'Bearer ' . $this->settings['client_key'],
					'Content-Type'  => 'application/json',
					'Accept'        => 'application/json',
				),
				'body'        => wp_json_encode( $body ),
			)
		);
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		$code   = (int) wp_remote_retrieve_response_code( $response );
		$answer = json_decode( wp_remote_retrieve_body( $response ), true );
		if ( $code < 200 || $code >= 300 || ! is_array( $answer ) ) {
			$detail = is_array( $answer ) && isset( $answer['message'] ) ? ': ' . $answer['message'] : '';
			return new WP_Error( 'moderation_http_' . $code, sprintf( 'the service answered HTTP %d%s', $code, $detail ), array( 'status' => $code ) );
		}
		return $answer;
	}
}
