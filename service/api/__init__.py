"""flask-smorest blueprints; views parse with a schema, call one service, dump."""
