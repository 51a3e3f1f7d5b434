"""Marshmallow schemas: the shape and syntax of every request and response."""
