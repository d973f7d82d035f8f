"""spaCy components. They orchestrate: the backend scores, the tasks build pairs and annotations."""
