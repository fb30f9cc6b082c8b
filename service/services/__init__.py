"""Use cases: one module per area; each public function is one unit of work."""
