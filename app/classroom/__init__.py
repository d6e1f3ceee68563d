"""Classroom mode: scenarios stepped on the live simulated cluster, and the presenter's token."""
