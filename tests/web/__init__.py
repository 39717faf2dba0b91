"""Tests of the web explorer (`hashgrad.web`): input checks, the live file, the API and a real browser."""
