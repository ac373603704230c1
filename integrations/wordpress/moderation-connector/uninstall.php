<?php
/**
 * Remove the plugin's settings when it is deleted from wp-admin.
 *
 * The comment meta (our comment ids and decisions) is kept: it documents how each comment was
 * moderated and costs nothing once the plugin is gone.
 *
 * @package Moderation_Connector
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

delete_option( 'moderation_connector_settings' );
