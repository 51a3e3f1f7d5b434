"""The one error body of the API: {code, status, message, errors}."""

from marshmallow import Schema, fields


class ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    status = fields.String(required=True, metadata={"description": "The HTTP reason phrase."})
    message = fields.String(required=True, metadata={"description": "One human sentence."})
    errors = fields.Dict(
        metadata={
            "description": "Validation errors by location, index and field, e.g. "
            '{"json": {"prospects": {"3": {"email": ["..."]}}}}.'
        }
    )
