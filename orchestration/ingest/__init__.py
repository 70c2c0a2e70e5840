"""Ingestion: discover deliveries in the landing folders and load them, per the feed contract."""
