"""The manager's dashboard: pages, charts and live updates served by the cloud itself."""
