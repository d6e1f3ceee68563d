"""Tests of the page's kubectl console (app/console)."""
