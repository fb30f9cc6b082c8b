"""Marshmallow schemas for every request and response body; never imports service/."""
