<?php
/**
 * Moderation done in wp-admin, reported back to the service as a training label.
 *
 * @package Moderation_Connector
 */

defined( 'ABSPATH' ) || exit;

/**
 * Hooks transition_comment_status, which every status change goes through (Spam, Not Spam,
 * Approve, Quick Edit, the REST API), so one hook reports each change exactly once.
 */
class Moderation_Connector_Feedback {

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
		add_action( 'transition_comment_status', array( $this, 'report' ), 10, 3 );
	}

	/**
	 * The label a status change means, or null when it is no verdict on the text.
	 *
	 * Marking spam is "spam"; approving a held or spam comment, or "Not Spam", is "ham". Trash is
	 * deletion (off-topic, duplicate, outdated) rather than a verdict, so it sends nothing, and so
	 * does unapproving a published comment.
	 *
	 * @param string $new_status approved, unapproved, spam or trash.
	 * @param string $old_status The status before.
	 * @return string|null
	 */
	public static function label_for( $new_status, $old_status ) {
		if ( 'spam' === $new_status && 'spam' !== $old_status ) {
			return 'spam';
		}
		if ( 'approved' === $new_status && in_array( $old_status, array( 'unapproved', 'spam' ), true ) ) {
			return 'ham';
		}
		if ( 'unapproved' === $new_status && 'spam' === $old_status ) {
			return 'ham';
		}
		return null;
	}

	/**
	 * Send the label for a status change made on this site, unless the change came from our webhook.
	 *
	 * @param string     $new_status The new status.
	 * @param string     $old_status The old status.
	 * @param WP_Comment $comment    The comment.
	 */
	public function report( $new_status, $old_status, $comment ) {
		if ( $this->plugin->is_applying_remote_status() ) {
			return;
		}
		$label = self::label_for( $new_status, $old_status );
		if ( null === $label || ! is_object( $comment ) ) {
			return;
		}
		$our_id = (string) get_comment_meta( $comment->comment_ID, Moderation_Connector::META_ID, true );
		if ( '' === $our_id ) {
			return; // Never checked by the service: nothing to attach the label to.
		}
		$result = $this->plugin->client()->send_feedback( $our_id, $label );
		if ( is_wp_error( $result ) ) {
			Moderation_Connector::log( sprintf( 'feedback "%s" on comment %s not sent: %s', $label, $our_id, $result->get_error_message() ) );
			return;
		}
		update_comment_meta( $comment->comment_ID, Moderation_Connector::META_FEEDBACK, $label );
	}
}
