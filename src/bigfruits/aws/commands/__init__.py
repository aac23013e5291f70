"""What each ``aws`` command decides: which requests to send, given AWS's answers and the state."""
