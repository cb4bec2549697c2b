"""Optional integrations, each behind its own extra; underway never imports them itself."""
