"""Ranking: pure functions over records and hits (trending now; personal ranking later)."""
