<?php
/**
 * Prepare a freshly installed test site through WordPress's PHP API: discussion settings and posts.
 *
 * Usage: php wordpress-site-setup.php <site directory> <number of posts>
 * Prints the new posts' ids as a JSON list.
 *
 * @package Moderation_Connector
 */

if ( PHP_SAPI !== 'cli' || $argc < 3 ) {
	fwrite( STDERR, "usage: php wordpress-site-setup.php <site directory> <number of posts>\n" );
	exit( 2 );
}

require rtrim( $argv[1], '/' ) . '/wp-load.php';

// WordPress holds every first-time commenter by default; the site under test lets the service decide.
update_option( 'comment_previously_approved', 0 );
update_option( 'comment_moderation', 0 );
update_option( 'comment_registration', 0 );
update_option( 'require_name_email', 1 );
update_option( 'close_comments_for_old_posts', 0 );

$ids = array();
for ( $n = 1; $n <= (int) $argv[2]; $n++ ) {
	$id = wp_insert_post(
		array(
			'post_title'     => "Frigate programme update, part $n",
			'post_content'   => '<!-- wp:paragraph --><p>The navy expects the second frigate to be delivered a year late.</p><!-- /wp:paragraph -->',
			'post_status'    => 'publish',
			'post_author'    => 1,
			'comment_status' => 'open',
		),
		true
	);
	if ( is_wp_error( $id ) ) {
		fwrite( STDERR, $id->get_error_message() . "\n" );
		exit( 1 );
	}
	$ids[] = $id;
}
echo wp_json_encode( $ids ), "\n";
