"""Customer handover (交接) in three stages: preparation, review, confirmation."""
