"""Reporting: the leaderboard, its figures and answers, FreeAL tables and the quality backfill."""
