"""cloud: the FastAPI ticket office: catalogue, orders, payments, reports, dashboard, ingest."""
