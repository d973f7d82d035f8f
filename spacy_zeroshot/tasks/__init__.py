"""Tasks: turn docs into (premise, hypothesis) pairs and scores back into annotations."""
