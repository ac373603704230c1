<?php
/**
 * Plugin Name:       Moderation Connector
 * Description:       Sends every new comment to a self-hosted moderation service and publishes, holds or rejects it on the service's answer; receives the service's signed webhooks and reports wp-admin moderation back as feedback.
 * Version:           0.1.0
 * Requires at least: 5.0
 * Requires PHP:      7.4
 * Author:            moderation
 * License:           MIT
 * Text Domain:       moderation-connector
 *
 * @package Moderation_Connector
 */

defined( 'ABSPATH' ) || exit;

define( 'MODERATION_CONNECTOR_VERSION', '0.1.0' );
define( 'MODERATION_CONNECTOR_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-moderation-connector.php';
require_once __DIR__ . '/includes/class-moderation-connector-client.php';
require_once __DIR__ . '/includes/class-moderation-connector-comments.php';
require_once __DIR__ . '/includes/class-moderation-connector-feedback.php';
require_once __DIR__ . '/includes/class-moderation-connector-webhook.php';
require_once __DIR__ . '/includes/class-moderation-connector-settings-page.php';

Moderation_Connector::instance()->register_hooks();
