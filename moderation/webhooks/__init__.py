"""CMS webhooks: signing, the dispatcher, the in-service background thread, the admin views and CLI."""
