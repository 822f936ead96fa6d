"""Reporting: the leaderboard, its figures and answers, FreeAL tables; it only reads records."""
