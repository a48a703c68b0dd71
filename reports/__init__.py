"""Figures read across apps: the hourly rollups and the dashboard's stats
(their models stay with the rows they count)."""
